/** Stopping the child processes `npm start` and the bench start. */
import type { ChildProcess } from "node:child_process";

export interface StopChildOptions {
  /**
   * "child": SIGTERM to the child alone, which cleans up after itself (drops its database, disposes
   * Miniflare). "group": SIGTERM to its whole process group (a detached child such as `wrangler dev`,
   * whose own children must go too).
   */
  terminate: "child" | "group";
  /** SIGKILL (to the same target) when it has not exited by then. */
  killAfterMs: number;
  /** Once it is gone, SIGKILL whatever is left in its process group, in case something outlived it. */
  sweepGroup?: boolean;
}

/** Stops `child` and resolves once it has exited (or was killed after `killAfterMs`). */
export function stopChild(child: ChildProcess, opts: StopChildOptions): Promise<void> {
  const pid = child.pid;
  const signalGroup = (signal: NodeJS.Signals): boolean => {
    if (pid === undefined) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false; // Nothing left in it.
    }
  };
  const sweep = (): void => {
    if (opts.sweepGroup) signalGroup("SIGKILL");
  };
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    sweep();
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (opts.terminate === "group") signalGroup("SIGKILL");
      else child.kill("SIGKILL");
      sweep();
      resolve();
    }, opts.killAfterMs);
    child.once("exit", () => {
      clearTimeout(timer);
      sweep();
      resolve();
    });
    if (opts.terminate === "child") child.kill("SIGTERM");
    else if (!signalGroup("SIGTERM")) {
      // The group is already gone.
      clearTimeout(timer);
      resolve();
    }
  });
}
