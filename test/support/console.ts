import { afterEach, beforeEach, vi } from "vitest";

/** One line a test's code wrote to the console, and the stream it went to. */
export type ConsoleLine = { stream: "log" | "warn" | "error"; text: string };

/**
 * Captures console.log, .warn and .error for every test of the calling file: the returned array holds
 * the current test's lines (emptied before each test), and nothing reaches the real console. Call it
 * once at the top of a test file. Each file runs in its own isolate, so the lines are that file's.
 */
export function captureConsole(): ConsoleLine[] {
  const output: ConsoleLine[] = [];
  beforeEach(() => {
    output.length = 0;
    for (const stream of ["log", "warn", "error"] as const) {
      vi.spyOn(console, stream).mockImplementation((...args: unknown[]) => {
        output.push({ stream, text: args.map(String).join(" ") });
      });
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  return output;
}
