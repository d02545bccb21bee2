/**
 * The model per city (load/latency/model.ts charged with load/latency/rtt-table.ts's round trips):
 * for every city and endpoint, what a shopper there waits with each way of deploying.
 *
 *   edge     Tenpo where Workers run by default: at the location the shopper reached. Every database
 *            and Redis round trip crosses to us-east-1.
 *   placed   Tenpo with Smart Placement: the whole Worker runs beside the database, so each request
 *            crosses to us-east-1 once (the forward hop) and its round trips are in-region; cached
 *            reads are served there too, not at the shopper's location [CF-PLACEMENT].
 *   split    not built: catalog reads in a Worker at the edge, orders in a placed Worker behind a
 *            service binding, which the placement docs suggest for this shape of app.
 *   origin   the FastAPI original in us-east-1: every request crosses to it, its database and Redis
 *            beside it.
 */
import {
  atBusyLocation,
  CHAPTER_MIX,
  chargedMs,
  mixPercentiles,
  percentilesOf,
  servedFrom,
  type Hops,
  type LatencySample,
  type Percentiles,
} from "./model";
import { IN_REGION_MS, type City } from "./rtt-table";

export const DEPLOYMENTS = ["edge", "placed", "split", "origin"] as const;
export type Deployment = (typeof DEPLOYMENTS)[number];
export const DEPLOYMENT_LABELS: Record<Deployment, string> = {
  edge: "Tenpo at the edge",
  placed: "Tenpo, Smart Placement",
  split: "Tenpo, reads at the edge + orders placed (not built)",
  origin: "FastAPI original, us-east-1",
};

/**
 * What the model shows per city. A catalog read is fast only where its location's cache holds the
 * product: read there within the last 5 s (the stock bound, src/cache/policy.ts) or kept current by
 * the stock view, and only when the isolate's catalog version read (once a second, src/cache/versions.ts)
 * is not due. "cached" rows are a busy location: the probe's reads answered from the cache without a
 * Redis round trip. "detail, cold" is a location where nobody read the product lately: the reads that
 * went to the database (with the version read when it was due). The mix is the chapter's Locust user
 * at a busy location (model.ts CHAPTER_MIX).
 */
export const MODELLED = ["detail", "detail-cold", "list", "order-create", "orders-list", "mix"] as const;
export type Modelled = (typeof MODELLED)[number];
export const MODELLED_LABELS: Record<Modelled, string> = {
  detail: "cached detail",
  "detail-cold": "detail, cold location",
  list: "cached list",
  "order-create": "order create",
  "orders-list": "orders list",
  mix: "the chapter's mix",
};

/** Which probe and which of its requests each row charges (the original's probes have no X-Cache: all). */
const ROW_SOURCE: Record<Exclude<Modelled, "mix">, { probe: string; keep: (s: LatencySample) => boolean }> = {
  detail: { probe: "detail", keep: atBusyLocation },
  "detail-cold": { probe: "detail", keep: (s) => servedFrom(s) !== "cache" },
  list: { probe: "list", keep: atBusyLocation },
  "order-create": { probe: "order-create", keep: () => true },
  "orders-list": { probe: "orders-list", keep: () => true },
};

/** Requests that touch orders (and so run placed in the split deployment). */
const ORDER_ENDPOINTS = new Set<string>(["order-create", "orders-list"]);

/** The hops one request pays in a deployment, for a shopper in `city`. */
export function hopsFor(deployment: Deployment, city: City, lastMileMs: number, endpoint: string, sample: LatencySample): Hops {
  const far = city.toUsEast1Ms;
  const edge: Hops = { client: lastMileMs, db: far, redis: far };
  const placed: Hops = { client: lastMileMs, forward: far, db: IN_REGION_MS, redis: IN_REGION_MS };
  switch (deployment) {
    case "edge":
      return edge;
    case "placed":
      return placed;
    case "split":
      return ORDER_ENDPOINTS.has(endpoint) || sample.kind === "order" ? placed : edge;
    case "origin":
      return { client: lastMileMs + far, db: 0, redis: 0 };
  }
}

/** What the model needs measured: each probe's samples by probe key ("detail", "order-create", …). */
export type SamplesByProbe = Readonly<Record<string, readonly LatencySample[] | undefined>>;

export interface CityRow {
  city: City;
  /** Null where an endpoint was not measured on that side. */
  cells: Record<Modelled, Record<Deployment, Percentiles | null>>;
}

/** A row's samples, each charged as `deployment` charges it for a shopper in `city`. */
function charged(samples: SamplesByProbe, row: Exclude<Modelled, "mix">, deployment: Deployment, city: City, lastMileMs: number): number[] {
  const source = ROW_SOURCE[row];
  return (samples[source.probe] ?? []).filter(source.keep).map((s) => chargedMs(s, hopsFor(deployment, city, lastMileMs, source.probe, s)));
}

/** Every city × row × deployment; the original's side from `peer` (its probes have no X-Cache: every read counts). */
export function perCity(tenpo: SamplesByProbe, peer: SamplesByProbe, cities: readonly City[], lastMileMs: number): CityRow[] {
  return cities.map((city) => {
    const cells = {} as CityRow["cells"];
    for (const row of MODELLED) {
      const out = {} as Record<Deployment, Percentiles | null>;
      for (const d of DEPLOYMENTS) {
        const samples = d === "origin" ? peer : tenpo;
        if (row === "mix") {
          const parts = CHAPTER_MIX.map((m) => ({
            values: charged(samples, m.probe as Exclude<Modelled, "mix">, d, city, lastMileMs),
            weight: m.weight,
          }));
          out[d] = parts.every((p) => p.values.length > 0) ? mixPercentiles(parts) : null;
        } else {
          const values = charged(samples, row, d, city, lastMileMs);
          out[d] = values.length > 0 ? percentilesOf(values) : null;
        }
      }
      cells[row] = out;
    }
    return { city, cells };
  });
}
