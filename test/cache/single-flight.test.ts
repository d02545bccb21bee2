import { describe, expect, it } from "vitest";
import { SingleFlight } from "../../src/cache/single-flight";
import { sleep } from "./helpers";

describe("single flight", () => {
  it("runs the work once for every caller that comes while it runs, then again", async () => {
    const flights = new SingleFlight<number>();
    let runs = 0;
    const work = async () => {
      runs += 1;
      await sleep(30);
      return runs;
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => flights.run("k", work)));
    expect(runs).toBe(1);
    expect(results.filter((r) => r.leader)).toHaveLength(1);
    expect(new Set(results.map((r) => r.value))).toEqual(new Set([1]));
    expect(flights.inFlight).toBe(0);
    expect((await flights.run("k", work)).value).toBe(2);
  });

  it("gives every waiting caller the failure, and forgets it", async () => {
    const flights = new SingleFlight<number>();
    const failing = async () => {
      await sleep(10);
      throw new Error("boom");
    };
    const settled = await Promise.allSettled([flights.run("k", failing), flights.run("k", failing)]);
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected"]);
    expect((await flights.run("k", async () => 7)).value).toBe(7);
  });
});
