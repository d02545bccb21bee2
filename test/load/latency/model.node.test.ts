/**
 * Specification of the latency model (load/latency/model.ts and per-city.ts): what a request costs
 * once its round trips are charged, the percentiles of a traffic mix, the check against a measurement,
 * and what each deployment charges a shopper in a city.
 */
import { describe, expect, it } from "vitest";
import {
  agreement,
  agreementsOf,
  atBusyLocation,
  chargedMs,
  mixAgreement,
  mixPercentiles,
  predict,
  probePairs,
  servedFrom,
  type LatencySample,
} from "../../../load/latency/model";
import { hopsFor, perCity } from "../../../load/latency/per-city";
import { CITIES, IN_REGION_MS, SOURCES, type City } from "../../../load/latency/rtt-table";

const sample = (ms: number, db = 0, redis = 0, extra: Partial<LatencySample> = {}): LatencySample => ({
  ms,
  db,
  redis,
  status: 200,
  ...extra,
});
const TOKYO: City = { name: "Tokyo", location: "NRT", toUsEast1Ms: 150, source: "test" };

describe("a request's cost", () => {
  it("is its own time plus the client round trip, the forward hop and every database and Redis round trip", () => {
    expect(chargedMs(sample(5, 2, 1), { client: 20, db: 100, redis: 50 })).toBe(5 + 20 + 200 + 50);
    expect(chargedMs(sample(5, 2, 1), { client: 20, forward: 150, db: 2, redis: 2 })).toBe(5 + 20 + 150 + 4 + 2);
    expect(chargedMs(sample(3), { client: 0, db: 0, redis: 0 })).toBe(3);
  });

  it("moves the p95 and not the p50 when only a few requests go to the database", () => {
    const samples = [...Array.from({ length: 19 }, () => sample(2)), sample(8, 1, 2)];
    expect(predict(samples, { client: 25, db: 150, redis: 150 })).toEqual({ p50_ms: 27, p95_ms: 27 });
    const misses = [...Array.from({ length: 18 }, () => sample(2)), sample(8, 1, 2), sample(8, 1, 2)];
    expect(predict(misses, { client: 25, db: 150, redis: 150 }).p95_ms).toBe(8 + 25 + 450);
  });
});

describe("a traffic mix", () => {
  it("weighs each part by its share of the requests, however many samples it has", () => {
    // 3 : 1 with 1 sample against 100: the single 10 ms sample still weighs 75 %.
    const mix = mixPercentiles([
      { values: [10], weight: 3 },
      { values: Array.from({ length: 100 }, () => 100), weight: 1 },
    ]);
    expect(mix).toEqual({ p50_ms: 10, p95_ms: 100 });
  });

  it("leaves out parts without samples", () => {
    expect(
      mixPercentiles([
        { values: [], weight: 5 },
        { values: [7, 9], weight: 1 },
      ]),
    ).toEqual({ p50_ms: 7, p95_ms: 9 });
  });
});

describe("the check against a measurement", () => {
  const hops = { client: 40, db: 30, redis: 20 };

  it("agrees when the measured p50 is within 15 % of the prediction, and says by how much", () => {
    const unloaded = Array.from({ length: 10 }, () => sample(6, 1));
    const close = agreement(
      "order create",
      unloaded,
      Array.from({ length: 10 }, () => sample(80, 1)),
      hops,
    );
    expect(close.predicted.p50_ms).toBe(76);
    expect(close.p50_error).toBeCloseTo(-0.05, 3);
    expect(close.agrees).toBe(true);
    expect(close.floor_ms).toBe(70);
    const far = agreement(
      "order create",
      unloaded,
      Array.from({ length: 10 }, () => sample(100, 1)),
      hops,
    );
    expect(far.agrees).toBe(false);
  });

  it("checks each number of round trips on its own, and skips a group with too few samples", () => {
    const hit = (ms: number): LatencySample => sample(ms, 0, 0, { cache: "HIT" });
    const versionRead = (ms: number): LatencySample => sample(ms, 0, 1, { cache: "HIT" });
    const miss = (ms: number): LatencySample => sample(ms, 1, 1, { cache: "MISS" });
    const pair = {
      key: "detail",
      label: "cached detail",
      probe: {
        latency: {
          p50_ms: 0,
          p95_ms: 0,
          samples: [...Array.from({ length: 6 }, () => hit(2)), ...Array.from({ length: 6 }, () => versionRead(3)), miss(8)],
        },
      },
      probe_rtt: {
        latency: {
          p50_ms: 0,
          p95_ms: 0,
          samples: [...Array.from({ length: 5 }, () => hit(42)), ...Array.from({ length: 7 }, () => versionRead(64)), miss(98)],
        },
      },
    };
    const rows = agreementsOf(pair, hops);
    expect(rows.map((r) => r.endpoint)).toEqual([
      "cached detail: 0 DB + 0 Redis round trips (5 of 13)",
      "cached detail: 0 DB + 1 Redis round trips (7 of 13)",
    ]);
    expect(rows.map((r) => r.predicted.p50_ms)).toEqual([42, 63]);
    expect(rows.every((r) => r.agrees)).toBe(true);
  });

  it("says which requests a busy location answers without a round trip to Upstash", () => {
    expect(atBusyLocation(sample(2, 0, 0, { cache: "HIT" }))).toBe(true);
    expect(atBusyLocation(sample(2, 0, 1, { cache: "HIT" }))).toBe(false);
    expect(atBusyLocation(sample(9, 1, 1, { cache: "MISS" }))).toBe(false);
    expect(atBusyLocation(sample(7, 1, 0))).toBe(true);
  });

  it("checks the chapter's mix from the endpoints' probes, 3 : 2 : 1, and never from one shopper's bimodal mix", () => {
    const hit = (ms: number): LatencySample => sample(ms, 0, 0, { cache: "HIT" });
    const probe = (samples: LatencySample[]) => ({ latency: { p50_ms: 0, p95_ms: 0, samples } });
    const pairs = [
      { key: "list", label: "list", probe: probe([hit(2), sample(9, 1, 1, { cache: "MISS" })]), probe_rtt: probe([hit(42)]) },
      { key: "detail", label: "detail", probe: probe([hit(2)]), probe_rtt: probe([hit(43)]) },
      { key: "order-create", label: "order", probe: probe([sample(6, 1)]), probe_rtt: probe([sample(77, 1)]) },
      { key: "mix", label: "mix", probe: probe([hit(2), sample(6, 1)]), probe_rtt: probe([hit(42), sample(77, 1)]) },
    ];
    const mix = mixAgreement(pairs, hops)!;
    // 5 of 6 requests are reads from the cache: the p50 is one, the p95 the order.
    expect(mix.predicted).toEqual({ p50_ms: 42, p95_ms: 76 });
    expect(mix.measured).toEqual({ p50_ms: 42, p95_ms: 77 });
    expect(mix.agrees).toBe(true);
    expect(agreementsOf(pairs[3]!, hops)).toEqual([]);
    expect(mixAgreement(pairs.slice(1), hops)).toBeNull();
  });

  it("reads a run's probe pairs, the closing hello worlds left out and the mix last", () => {
    const probe = { latency: { p50_ms: 1, p95_ms: 1, samples: [sample(1)] } };
    const pairs = probePairs({
      phases: [
        { key: "health", label: "health", probe, probe_rtt: probe },
        { key: "search", label: "search", probe: null },
        { key: "hello-miniflare-end", label: "hello", probe },
      ],
      mix_probe: { label: "mix", probe, probe_rtt: null },
    });
    expect(pairs.map((p) => p.key)).toEqual(["health", "mix"]);
  });

  it("knows a read from the cache (HIT, STALE) from one that went to the database (MISS, BYPASS)", () => {
    expect(["HIT", "STALE", "MISS", "BYPASS", undefined].map((cache) => servedFrom(sample(1, 0, 0, { cache })))).toEqual([
      "cache",
      "cache",
      "database",
      "database",
      null,
    ]);
  });
});

describe("per city", () => {
  it("charges the edge every round trip to us-east-1, Smart Placement the long hop once, the original every request", () => {
    const order = sample(6, 2, 0);
    expect(hopsFor("edge", TOKYO, 25, "order-create", order)).toEqual({ client: 25, db: 150, redis: 150 });
    expect(hopsFor("placed", TOKYO, 25, "order-create", order)).toEqual({
      client: 25,
      forward: 150,
      db: IN_REGION_MS,
      redis: IN_REGION_MS,
    });
    expect(hopsFor("origin", TOKYO, 25, "order-create", order)).toEqual({ client: 175, db: 0, redis: 0 });
    expect(hopsFor("split", TOKYO, 25, "order-create", order).forward).toBe(150);
    expect(hopsFor("split", TOKYO, 25, "detail", sample(2)).forward).toBeUndefined();
    expect(hopsFor("split", TOKYO, 25, "mix", sample(6, 1, 0, { kind: "order" })).forward).toBe(150);
  });

  it("makes a cached read fast at the edge and slow when placed, an order the other way round", () => {
    const tenpo = {
      detail: [sample(2, 0, 0, { cache: "HIT" }), sample(9, 1, 2, { cache: "MISS" })],
      list: [sample(2, 0, 0, { cache: "HIT" })],
      "order-create": [sample(7, 1, 0)],
      "orders-list": [sample(6, 1, 0)],
    };
    const peer = { detail: [sample(3)], list: [sample(4)], "order-create": [sample(20)], "orders-list": [sample(10)] };
    const [row] = perCity(tenpo, peer, [TOKYO], 25);
    const c = row!.cells;
    expect(c.detail.edge!.p50_ms).toBe(27);
    expect(c.detail.placed!.p50_ms).toBe(2 + 25 + 150);
    expect(c.detail.origin!.p50_ms).toBe(3 + 175);
    expect(c["detail-cold"].edge!.p50_ms).toBe(9 + 25 + 150 + 300);
    expect(c["order-create"].edge!.p50_ms).toBe(7 + 25 + 150);
    expect(c["order-create"].placed!.p50_ms).toBe(7 + 25 + 150 + IN_REGION_MS);
    expect(c["order-create"].origin!.p50_ms).toBe(20 + 175);
    // The chapter's mix at a busy location: 3 cached lists : 2 cached details : 1 order.
    expect(c.mix.edge).toEqual({ p50_ms: 27, p95_ms: 182 });
  });

  it("cites a source for every city, and every source cited exists", () => {
    const ids = new Set(SOURCES.map((s) => s.id));
    expect(CITIES.length).toBeGreaterThanOrEqual(6);
    for (const city of CITIES) {
      const cited = [...city.source.matchAll(/\[([A-Z0-9-]+)\]/g)].map((m) => m[1]);
      expect(cited.length, city.name).toBeGreaterThan(0);
      for (const id of cited) expect(ids.has(id!), `${city.name}: ${id}`).toBe(true);
    }
  });
});
