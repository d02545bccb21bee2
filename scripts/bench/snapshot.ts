/**
 * A snapshot of the working tree for the benchmark: the bundle is built from it, so the code measured
 * is the code as it was when the bench started, whatever others edit in src/ during the run.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { processIsAlive } from "../services";

/**
 * Tracked and untracked (not ignored) files of `root` copied into a new temporary folder, node_modules
 * linked. Returns the folder; the caller removes it.
 */
export function stageWorkingTree(root: string, log: (line: string) => void): string {
  removeOrphanedSnapshots(log);
  const stage = join(tmpdir(), `tenpo-bench-${Date.now()}-${process.pid}`);
  mkdirSync(stage, { recursive: true });
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" });
  const files =
    listed.status === 0
      ? listed.stdout.split("\0").filter(Boolean)
      : ["wrangler.toml", "package.json", "tsconfig.json", ...gitlessSources(root)];
  let copied = 0;
  for (const file of files) {
    if (file.startsWith("load/results/")) continue;
    const from = join(root, file);
    if (!existsSync(from)) continue; // deleted in the working tree
    mkdirSync(dirname(join(stage, file)), { recursive: true });
    copyFileSync(from, join(stage, file));
    copied += 1;
  }
  symlinkSync(join(root, "node_modules"), join(stage, "node_modules"), "dir");
  log(`snapshot of the working tree (${copied} files) in ${stage}`);
  return stage;
}

function gitlessSources(root: string): string[] {
  return readdirSync(join(root, "src"), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

/** Snapshots left by a bench that was killed (SIGKILL): their folder names the pid, which is gone. */
function removeOrphanedSnapshots(log: (line: string) => void): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = /^tenpo-bench-\d+-(\d+)$/.exec(name)?.[1];
    if (pid === undefined || processIsAlive(Number(pid))) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
    log(`removed the snapshot of a bench that did not stop: ${name}`);
  }
}
