/** Specification of `npm run bench -- --rtt …`'s setting (scripts/bench/round-trips.ts). */
import { describe, expect, it } from "vitest";
import { parseRoundTrips, roundTripsText } from "../../../scripts/bench/round-trips";

describe("--rtt client=…,db=…,redis=…", () => {
  it("reads client=…,db=…,redis=… in milliseconds; a hop not named costs nothing", () => {
    expect(parseRoundTrips("client=40,db=20,redis=10")).toEqual({ client: 40, db: 20, redis: 10 });
    expect(parseRoundTrips(" db = 150 ")).toEqual({ client: 0, db: 150, redis: 0 });
    expect(parseRoundTrips("client=0.5")).toEqual({ client: 0.5, db: 0, redis: 0 });
  });

  it("refuses unknown hops, repeated hops, missing or out-of-range values, with the reason", () => {
    expect(() => parseRoundTrips("cdn=10")).toThrow(/not one of them/);
    expect(() => parseRoundTrips("db=10,db=20")).toThrow(/twice/);
    expect(() => parseRoundTrips("db=")).toThrow(/0\.\.2000/);
    expect(() => parseRoundTrips("db")).toThrow(/not one of them/);
    expect(() => parseRoundTrips("db=-5")).toThrow(/0\.\.2000/);
    expect(() => parseRoundTrips("db=3000")).toThrow(/0\.\.2000/);
    expect(() => parseRoundTrips("")).toThrow(/names no hop/);
  });
});

describe("the setting's text", () => {
  it("names every hop", () => {
    expect(roundTripsText({ client: 40, db: 20, redis: 0 })).toBe("client 40 ms, db 20 ms, redis 0 ms");
  });
});
