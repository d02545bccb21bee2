import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WRITE_TIMEOUT_MS } from "../../src/db/resilience";
import type { OrderBody } from "../../src/schemas/orders";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { jsonRequest, outboxOf, stocksOf } from "../support/orders";
import { apiWithEnv } from "../support/api";
import { clearFaults, expectServiceUnavailable, markedDatabase, setSqlFault, sqlFault, sqlFaultSettled, quietLogs } from "./support";

// No half-written state (README "Failure modes"): an order interrupted at any step — the SQL server
// failing before it runs anything, failing between the statements of its transaction, or committing
// and then losing the answer — ends either fully created once or not at all, and a client retry with
// the same Idempotency-Key converges on that one order. Each test checks stock, orders, lines, keys
// and the e-mail job directly in Postgres.

afterEach(async () => {
  vi.restoreAllMocks();
  await clearFaults();
});

type Written = { orders: number[]; lines: number; keys: number; outbox: number };

/** Everything an order of `user` may have written, straight from Postgres. */
async function writtenFor(user: TestUser): Promise<Written> {
  const { rows } = await db.execute<{ orders: number[] | null; lines: number; keys: number; outbox: number }>(sql`
    select
      (select array_agg(id order by id) from orders where user_id = ${user.id}) as orders,
      (select count(*)::int from order_items i join orders o on o.id = i.order_id where o.user_id = ${user.id}) as lines,
      (select count(*)::int from idempotency_keys where user_id = ${user.id}) as keys,
      (select count(*)::int from email_outbox e join orders o on o.id = e.order_id where o.user_id = ${user.id}) as outbox
  `);
  const row = rows[0]!;
  return { ...row, orders: row.orders ?? [] };
}

function placeOrder(user: TestUser, items: Array<{ product_id: number; quantity: number }>, key: string | undefined, databaseUrl?: string) {
  const headers: Record<string, string> = key === undefined ? {} : { "Idempotency-Key": key };
  return apiWithEnv(
    databaseUrl ? { DATABASE_URL: databaseUrl } : {},
    "/api/v1/orders",
    jsonRequest("POST", user.token, { items }, headers),
  );
}

async function setup() {
  const user = await makeUser();
  const [a, b] = (await makeProducts([
    { stock: 10, price: "2.00" },
    { stock: 5, price: "3.00" },
  ])) as [number, number];
  const items = [
    { product_id: a, quantity: 3 },
    { product_id: b, quantity: 1 },
  ];
  return { user, a, b, items, key: `fault-${crypto.randomUUID()}`, ...markedDatabase() };
}

describe("an order interrupted by the database", () => {
  it("(a) the SQL server fails the create: 503, nothing written; the retry with the same key after recovery places it once", async () => {
    quietLogs();
    const t = await setup();
    await setSqlFault(t.marker, { failStatus: 503 });
    await expectServiceUnavailable(await placeOrder(t.user, t.items, t.key, t.url));
    expect(await sqlFault(t.marker)).toMatchObject({ matched: 1 }); // a write is not retried by the Worker
    expect(await stocksOf([t.a, t.b])).toEqual([10, 5]);
    expect(await writtenFor(t.user)).toEqual({ orders: [], lines: 0, keys: 0, outbox: 0 });

    await clearFaults();
    const retry = await placeOrder(t.user, t.items, t.key, t.url);
    expect(retry.status).toBe(201);
    expect(retry.headers.get("Idempotent-Replayed")).toBeNull();
    const order = (await retry.json()) as OrderBody;
    expect(await stocksOf([t.a, t.b])).toEqual([7, 4]);
    expect(await writtenFor(t.user)).toEqual({ orders: [order.id], lines: 2, keys: 1, outbox: 1 });
  });

  it("(b) committed, then the answer is lost (connection dropped): 503; the retry with the key answers the same order, stock taken once", async () => {
    quietLogs();
    const t = await setup();
    await setSqlFault(t.marker, { drop: true, failAt: "after-commit" });
    await expectServiceUnavailable(await placeOrder(t.user, t.items, t.key, t.url));
    expect(await sqlFault(t.marker)).toMatchObject({ matched: 1 });
    // It did happen, once: the client just did not hear about it.
    const written = await writtenFor(t.user);
    expect(written).toMatchObject({ lines: 2, keys: 1, outbox: 1 });
    expect(written.orders).toHaveLength(1);
    expect(await stocksOf([t.a, t.b])).toEqual([7, 4]);
    // The Worker never saw the outbox id, so the e-mail job waits for the re-send cron (test/queue/scheduled.test.ts).
    expect(await outboxOf(written.orders[0]!)).toMatchObject({ enqueued_at: null, sent_at: null });

    await clearFaults();
    const retry = await placeOrder(t.user, t.items, t.key, t.url);
    expect(retry.status).toBe(201);
    expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
    const order = (await retry.json()) as OrderBody;
    expect(order.id).toBe(written.orders[0]);
    expect(order.items.map((i) => [i.product_id, i.quantity])).toEqual([
      [t.a, 3],
      [t.b, 1],
    ]);
    expect(await stocksOf([t.a, t.b])).toEqual([7, 4]);
    expect(await writtenFor(t.user)).toEqual(written);
  });

  it("(b) the same without a key: the server does not place it twice on its own (one order), and says 503", async () => {
    quietLogs();
    const t = await setup();
    await setSqlFault(t.marker, { failStatus: 502, failAt: "after-commit" });
    await expectServiceUnavailable(await placeOrder(t.user, t.items, undefined, t.url));
    expect(await sqlFault(t.marker)).toMatchObject({ matched: 1 });
    const written = await writtenFor(t.user);
    expect(written.orders).toHaveLength(1);
    expect(written).toMatchObject({ lines: 2, keys: 0, outbox: 1 });
    expect(await stocksOf([t.a, t.b])).toEqual([7, 4]);
  });

  it("(c) the fault between the statements (key claimed, then the failure): all rolled back; the retry places it once", async () => {
    quietLogs();
    const t = await setup();
    await setSqlFault(t.marker, { failStatus: 503, failAt: "mid-batch" });
    await expectServiceUnavailable(await placeOrder(t.user, t.items, t.key, t.url));
    // The claim of the key ran inside the batch's transaction and went with it.
    expect(await writtenFor(t.user)).toEqual({ orders: [], lines: 0, keys: 0, outbox: 0 });
    expect(await stocksOf([t.a, t.b])).toEqual([10, 5]);

    await clearFaults();
    const retry = await placeOrder(t.user, t.items, t.key, t.url);
    expect(retry.status).toBe(201);
    expect(retry.headers.get("Idempotent-Replayed")).toBeNull();
    const order = (await retry.json()) as OrderBody;
    expect(await writtenFor(t.user)).toEqual({ orders: [order.id], lines: 2, keys: 1, outbox: 1 });
    expect(await stocksOf([t.a, t.b])).toEqual([7, 4]);
    // And again: a replay, nothing more.
    const replay = await placeOrder(t.user, t.items, t.key);
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
    expect(((await replay.json()) as OrderBody).id).toBe(order.id);
    expect(await stocksOf([t.a, t.b])).toEqual([7, 4]);
  });

  it("a cancel interrupted between its statements is rolled back: the order stays confirmed, stock comes back once on the retry", async () => {
    quietLogs();
    const t = await setup();
    const placed = await placeOrder(t.user, t.items, undefined);
    const order = (await placed.json()) as OrderBody;
    expect(await stocksOf([t.a, t.b])).toEqual([7, 4]);
    const cancel = (url?: string) =>
      apiWithEnv(url ? { DATABASE_URL: url } : {}, `/api/v1/orders/${order.id}/cancel`, jsonRequest("POST", t.user.token));

    await setSqlFault(t.marker, { failStatus: 503, failAt: "mid-batch" });
    await expectServiceUnavailable(await cancel(t.url));
    const status = await db.execute<{ status: string }>(sql`select status from orders where id = ${order.id}`);
    expect(status.rows[0]!.status).toBe("confirmed");
    expect(await stocksOf([t.a, t.b])).toEqual([7, 4]);

    await clearFaults();
    expect((await cancel(t.url)).status).toBe(200);
    expect((await cancel()).status).toBe(200);
    expect(await stocksOf([t.a, t.b])).toEqual([10, 5]);
  });

  it("a write that times out may still commit later; the client's retry with the key converges on one order", {
    timeout: 30_000,
  }, async () => {
    quietLogs();
    const t = await setup();
    // The first request reaches the server and hangs there past the Worker's write timeout; the
    // server then runs it anyway. The retry (not delayed: times 1) races it.
    await setSqlFault(t.marker, { delayMs: WRITE_TIMEOUT_MS + 1_000, times: 1 });
    await expectServiceUnavailable(await placeOrder(t.user, t.items, t.key, t.url));
    const retry = await placeOrder(t.user, t.items, t.key, t.url);
    expect(retry.status).toBe(201);
    const order = (await retry.json()) as OrderBody;

    // Wait until the delayed first request has run on the server too, then count.
    const record = await sqlFaultSettled(t.marker);
    // The delayed first request and the retry's order statement (its after-response enqueue writes nothing).
    expect(record).toMatchObject({ matched: 2, applied: 1, settled: 2 });
    expect(await writtenFor(t.user)).toEqual({ orders: [order.id], lines: 2, keys: 1, outbox: 1 });
    expect(await stocksOf([t.a, t.b])).toEqual([7, 4]);
  });
});
