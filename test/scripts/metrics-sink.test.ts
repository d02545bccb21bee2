/**
 * Specification of scripts/metrics-sink.ts, over HTTP from inside workerd (test/global-setup.ts runs
 * one for this test run). Other files post to the same sink in parallel, so every record here carries
 * an index of its own and only those are looked at.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { SinkRecord } from "../../src/observability/data-point";

const SINK = env.TEST_METRICS_SINK_URL;

function record(index: string, overrides: Partial<SinkRecord> = {}): SinkRecord {
  return {
    timestamp: Date.now(),
    indexes: [index],
    blobs: ["GET", index, "200", "NONE", "local"],
    doubles: [12.5, 1, 3.25, 0, 0],
    ...overrides,
  };
}

const post = (body: unknown) =>
  fetch(SINK, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

async function stored(index: string): Promise<SinkRecord[]> {
  const res = await fetch(`${SINK}?since=0`);
  expect(res.status).toBe(200);
  return ((await res.json()) as SinkRecord[]).filter((r) => r.indexes[0] === index);
}

const uniqueIndex = () => `/sink-test/${crypto.randomUUID()}`;

describe("POST /points", () => {
  it("stores one record, as given", async () => {
    const index = uniqueIndex();
    const r = record(index);
    const res = await post(r);
    expect(res.status).toBe(204);
    expect(await stored(index)).toEqual([r]);
  });

  it("stores a batch in order", async () => {
    const index = uniqueIndex();
    const batch = [1, 2, 3].map((n) => record(index, { doubles: [n, 0, 0, 0, 0] }));
    expect((await post(batch)).status).toBe(204);
    expect((await stored(index)).map((r) => r.doubles[0])).toEqual([1, 2, 3]);
  });

  it.each([
    ["not JSON", "{nope"],
    ["no timestamp", { indexes: ["/x"], blobs: [], doubles: [] }],
    ["two indexes", { timestamp: 1, indexes: ["/a", "/b"], blobs: [], doubles: [] }],
    ["a number blob", { timestamp: 1, indexes: ["/a"], blobs: [200], doubles: [] }],
    ["a string double", { timestamp: 1, indexes: ["/a"], blobs: [], doubles: ["1"] }],
  ])("refuses %s with 400", async (_, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBeTruthy();
  });

  it("stores nothing of a batch with one bad record", async () => {
    const index = uniqueIndex();
    const res = await post([record(index), { ...record(index), doubles: [NaN] }]);
    expect(res.status).toBe(400);
    expect(await stored(index)).toEqual([]);
  });
});

describe("GET /points", () => {
  it("filters by time and limits to the newest", async () => {
    const index = uniqueIndex();
    await post([record(index, { timestamp: 1000 }), record(index, { timestamp: 2000 }), record(index, { timestamp: 3000 })]);
    const since = (await (await fetch(`${SINK}?since=1500`)).json()) as SinkRecord[];
    expect(since.filter((r) => r.indexes[0] === index).map((r) => r.timestamp)).toEqual([2000, 3000]);
    const res = await fetch(`${SINK}?limit=0`);
    expect(res.status).toBe(400);
    await res.body?.cancel();
  });
});

describe("other requests", () => {
  it("answers health, 405 and 404", async () => {
    const base = SINK.replace(/\/points$/, "");
    expect(await (await fetch(`${base}/health`)).json()).toMatchObject({ status: "ok" });
    const wrong = await fetch(SINK, { method: "DELETE" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("Allow")).toBe("GET, POST");
    await wrong.body?.cancel();
    const missing = await fetch(`${base}/nothing`);
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
  });
});
