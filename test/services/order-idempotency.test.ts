import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { idempotencyKeys } from "../../src/db/schema";
import { requestFingerprint } from "../../src/routes/order-fingerprint";
import { purgeExpiredIdempotencyKeys } from "../../src/services/order-idempotency";
import { placeOrder } from "../../src/services/order-placement";
import { makeUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { stockOf } from "../support/orders";

// Idempotency keys against the real database, below the HTTP layer: the race of two requests with
// one key in slow motion, and the clean-up the cron runs.

/** A statement that sleeps inside its batch, tagged so that the test can see when it is running. */
const sleeping = (seconds: number, tag: string) => db.execute(sql`select pg_sleep(${seconds}) ${sql.raw(`/* ${tag} */`)}`);

/** Waits until a statement tagged `tag` runs (the batch before it has then done its work, uncommitted). */
async function untilRunning(tag: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await db.execute<{ n: number }>(
      sql`select count(*)::int as n from pg_stat_activity where state = 'active' and query like ${`%/* ${tag} */%`} and pid <> pg_backend_pid()`,
    );
    if (rows[0]!.n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`statement ${tag} never ran`);
}

describe("placeOrder and a racing duplicate of its Idempotency-Key", () => {
  it("waits for an in-flight first request and answers with what it stored (no polling, no second order)", async () => {
    const user = await makeUser();
    const [a] = await makeProducts([{ stock: 10 }]);
    const lines = [{ product_id: a!, quantity: 1 }];
    const key = crypto.randomUUID();
    const fingerprint = await requestFingerprint(lines);
    const stored = { id: 424242, note: "the winner's response" };
    const tag = `winner-${crypto.randomUUID()}`;

    // The "winner": a transaction that records the key and its response, then takes 0.6 s to commit.
    const winner = db.batch([
      db.insert(idempotencyKeys).values({
        userId: user.id,
        key,
        fingerprint,
        statusCode: 201,
        response: stored,
        expiresAt: sql`now() + interval '1 day'`,
      }),
      sleeping(0.6, tag),
    ]);
    await untilRunning(tag);
    const started = Date.now();
    const result = await placeOrder(db, { userId: user.id, tokenVersion: 0, lines, idempotency: { key, fingerprint } });
    const waited = Date.now() - started;
    await winner;

    expect(result).toEqual({ kind: "replayed", status: 201, body: stored });
    // It blocked on the unique index until the winner committed.
    expect(waited).toBeGreaterThan(200);
    expect(await stockOf(a!)).toBe(10);
  });

  it("places the order itself when the in-flight first request rolls back", async () => {
    const user = await makeUser();
    const [a] = await makeProducts([{ stock: 10 }]);
    const lines = [{ product_id: a!, quantity: 3 }];
    const key = crypto.randomUUID();
    const fingerprint = await requestFingerprint(lines);
    const tag = `loser-${crypto.randomUUID()}`;

    const failing = db.batch([
      db.insert(idempotencyKeys).values({ userId: user.id, key, fingerprint, expiresAt: sql`now() + interval '1 day'` }),
      sleeping(0.4, tag),
      db.execute(sql`select 1 / 0`),
    ]);
    const failed = failing.then(
      () => "committed",
      () => "rolled back",
    );
    await untilRunning(tag);
    const result = await placeOrder(db, { userId: user.id, tokenVersion: 0, lines, idempotency: { key, fingerprint } });
    expect(await failed).toBe("rolled back");

    expect(result.kind).toBe("created");
    expect(result.status).toBe(201);
    expect(await stockOf(a!)).toBe(7);
    const { rows } = await db.execute<{ status_code: number; order_id: number }>(
      sql`select status_code, order_id from idempotency_keys where user_id = ${user.id} and key = ${key}`,
    );
    expect(rows).toEqual([{ status_code: 201, order_id: result.kind === "created" ? result.body.id : -1 }]);
  });
});

describe("purgeExpiredIdempotencyKeys", () => {
  it("deletes expired keys and keeps live ones", async () => {
    const user = await makeUser();
    await db.insert(idempotencyKeys).values([
      { userId: user.id, key: "old", fingerprint: "f", statusCode: 201, response: {}, expiresAt: sql`now() - interval '1 minute'` },
      { userId: user.id, key: "live", fingerprint: "f", statusCode: 201, response: {}, expiresAt: sql`now() + interval '1 hour'` },
    ]);
    expect(await purgeExpiredIdempotencyKeys(db)).toBeGreaterThanOrEqual(1);
    const { rows } = await db.execute<{ key: string }>(sql`select key from idempotency_keys where user_id = ${user.id}`);
    expect(rows).toEqual([{ key: "live" }]);
  });
});
