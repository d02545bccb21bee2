import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { idempotencyKeys } from "../../src/db/schema";
import type { OrderBody } from "../../src/schemas/orders";
import {
  OUTBOX_RETENTION_DAYS,
  PRUNE_MAX_ROWS_PER_RUN,
  pruneEmailOutbox,
  RECIPIENT_CAP,
  resendStaleOrderEmails,
  type OrderEmailMessage,
} from "../../src/services/email-outbox";
import { placeOrder } from "../../src/services/order-placement";
import { apiWithEnv } from "../support/api";
import { makeUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { jsonRequest, mailTo, outboxOf, waitFor, type OutboxRow } from "../support/orders";

// The cron trigger: the outbox's safety net, the outbox's and the Idempotency-Keys' clean-up.
// Everything that sweeps the outbox lives in this one file, so its tests run one after another and
// never take each other's rows.

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs the Worker's scheduled handler as the cron would, with the real queue binding. */
async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ cron: "*/2 * * * *", scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

/** "A few minutes later": the row as if it were created (and last touched) ten minutes ago. */
async function age(outboxId: number, minutes = 10): Promise<void> {
  await db.execute(sql`
    update email_outbox set created_at = created_at - make_interval(mins => ${minutes}),
      enqueued_at = enqueued_at - make_interval(mins => ${minutes}), claimed_at = claimed_at - make_interval(mins => ${minutes})
    where id = ${outboxId}
  `);
}

async function newJob(): Promise<OrderEmailMessage & { email: string }> {
  const user = await makeUser();
  const [a] = await makeProducts([{ stock: 10 }]);
  const result = await placeOrder(db, { userId: user.id, tokenVersion: 0, lines: [{ product_id: a!, quantity: 1 }] });
  if (result.kind !== "created") throw new Error("expected a new order");
  return { outbox_id: result.outboxId, order_id: result.body.id, email: user.email };
}

/** A queue binding that keeps what it is given (and can refuse it). */
function capturingQueue(fail = false) {
  const sent: OrderEmailMessage[] = [];
  const queue = {
    send: async (body: OrderEmailMessage) => {
      if (fail) throw new Error("queue down");
      sent.push(body);
    },
    sendBatch: async (messages: Iterable<MessageSendRequest<OrderEmailMessage>>) => {
      if (fail) throw new Error("queue down");
      for (const message of messages) sent.push(message.body);
    },
  } as unknown as Queue;
  return { queue, sent };
}

describe("the cron re-sends order e-mails that never left", () => {
  it("an order whose queue send failed still gets its e-mail: the cron re-sends it a few minutes later", async () => {
    const buyer = await makeUser();
    const [a] = await makeProducts([{ stock: 10 }]);
    const { queue } = capturingQueue(true);
    const res = await apiWithEnv(
      { ORDER_EMAILS: queue },
      "/api/v1/orders",
      jsonRequest("POST", buyer.token, { items: [{ product_id: a, quantity: 1 }] }),
    );
    expect(res.status).toBe(201);
    const order = (await res.json()) as OrderBody;
    const row = await outboxOf(order.id);
    expect(row).toMatchObject({ enqueued_at: null, sent_at: null });

    // Right away the cron leaves it alone: it may still be on its way.
    await runCron();
    expect((await outboxOf(order.id)).enqueued_at).toBeNull();

    await age(row.id);
    await runCron();
    expect((await outboxOf(order.id)).enqueued_at).not.toBeNull();
    const mails = await waitFor(
      () => mailTo(buyer.email),
      (m) => m.length > 0,
    );
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe(`Your Tenpo order #${order.id} is confirmed`);
    expect(
      (
        await waitFor(
          () => outboxOf(order.id),
          (r) => r.sent_at !== null,
        )
      ).sent_at,
    ).not.toBeNull();
  });

  it("an order its request enqueued records nothing, yet the cron waits the threshold from its created_at before re-sending", async () => {
    const buyer = await makeUser();
    const [a] = await makeProducts([{ stock: 10 }]);
    const request = capturingQueue();
    const res = await apiWithEnv(
      { ORDER_EMAILS: request.queue },
      "/api/v1/orders",
      jsonRequest("POST", buyer.token, { items: [{ product_id: a, quantity: 1 }] }),
    );
    expect(res.status).toBe(201);
    const order = (await res.json()) as OrderBody;
    const row = await outboxOf(order.id);
    expect(request.sent).toEqual([expect.objectContaining({ outbox_id: row.id, order_id: order.id })]);
    expect(row).toMatchObject({ enqueued_at: null, claimed_at: null, sent_at: null });

    // Its message may still be waiting in the queue (a batch timeout, a retry): no duplicate yet.
    const early = capturingQueue();
    await resendStaleOrderEmails(db, early.queue);
    expect(early.sent.map((m) => m.outbox_id)).not.toContain(row.id);

    // Lost after all (say the message expired): the safety net still catches it.
    await age(row.id);
    const late = capturingQueue();
    await resendStaleOrderEmails(db, late.queue);
    expect(late.sent.map((m) => m.outbox_id)).toContain(row.id);
  });

  it("takes only rows untouched for the threshold, neither sent nor failed, and marks them enqueued", async () => {
    const [fresh, stale, sent, failed, recentlyEnqueued, recentlyClaimed] = await Promise.all(Array.from({ length: 6 }, () => newJob()));
    for (const job of [stale, sent, failed, recentlyEnqueued, recentlyClaimed]) await age(job!.outbox_id);
    await db.execute(sql`update email_outbox set sent_at = now() where id = ${sent!.outbox_id}`);
    await db.execute(sql`update email_outbox set failed_at = now() where id = ${failed!.outbox_id}`);
    await db.execute(sql`update email_outbox set enqueued_at = now() - interval '1 minute' where id = ${recentlyEnqueued!.outbox_id}`);
    await db.execute(sql`update email_outbox set claimed_at = now() - interval '1 minute' where id = ${recentlyClaimed!.outbox_id}`);

    const { queue, sent: messages } = capturingQueue();
    const result = await resendStaleOrderEmails(db, queue);
    const mine = new Set([fresh, stale, sent, failed, recentlyEnqueued, recentlyClaimed].map((j) => j!.outbox_id));
    expect(messages.filter((m) => mine.has(m.outbox_id))).toEqual([{ outbox_id: stale!.outbox_id, order_id: stale!.order_id }]);
    expect(result.resent).toBeGreaterThanOrEqual(1);
    expect((await outboxOf(stale!.order_id)).enqueued_at).not.toBeNull();

    // Re-sent once: the next run leaves it alone for another threshold.
    const again = capturingQueue();
    await resendStaleOrderEmails(db, again.queue);
    expect(again.sent.filter((m) => mine.has(m.outbox_id))).toEqual([]);
  });

  it(`holds its re-sends to the recipient's cap: 7 lost e-mails of one customer → ${RECIPIENT_CAP} sent, the rest suppressed and never re-sent`, async () => {
    const buyer = await makeUser();
    const [a] = await makeProducts([{ stock: 10 }]);
    const jobs: OrderEmailMessage[] = [];
    for (let i = 0; i < 7; i++) {
      const result = await placeOrder(db, { userId: buyer.id, tokenVersion: 0, lines: [{ product_id: a!, quantity: 1 }] });
      if (result.kind !== "created") throw new Error("expected a new order");
      jobs.push({ outbox_id: result.outboxId, order_id: result.body.id });
    }
    for (const job of jobs) await age(job.outbox_id);

    await runCron();
    const settled = (rows: OutboxRow[]) => rows.every((r) => r.sent_at !== null || r.suppressed_at !== null);
    const rows = await waitFor(() => Promise.all(jobs.map((job) => outboxOf(job.order_id))), settled);
    expect(rows.filter((r) => r.sent_at !== null)).toHaveLength(RECIPIENT_CAP);
    expect(rows.filter((r) => r.suppressed_at !== null)).toHaveLength(7 - RECIPIENT_CAP);
    expect(await mailTo(buyer.email)).toHaveLength(RECIPIENT_CAP);

    // Suppressed for good: a later run, however long after, does not hand them to the queue again.
    for (const job of jobs) await age(job.outbox_id, 120);
    const later = capturingQueue();
    await resendStaleOrderEmails(db, later.queue);
    expect(later.sent.filter((m) => jobs.some((job) => job.outbox_id === m.outbox_id))).toEqual([]);
  });

  it("a failed re-send un-marks its rows, so the next run tries again", async () => {
    const job = await newJob();
    await age(job.outbox_id);
    const result = await resendStaleOrderEmails(db, capturingQueue(true).queue);
    expect(result.failed).toBeGreaterThanOrEqual(1);
    expect((await outboxOf(job.order_id)).enqueued_at).toBeNull();
    const retry = capturingQueue();
    await resendStaleOrderEmails(db, retry.queue);
    expect(retry.sent.map((m) => m.outbox_id)).toContain(job.outbox_id);
  });
});

describe("the cron deletes expired Idempotency-Keys", () => {
  it("removes keys past their 24 hours and keeps the others", async () => {
    const user = await makeUser();
    await db.insert(idempotencyKeys).values([
      { userId: user.id, key: "expired", fingerprint: "f", statusCode: 201, response: {}, expiresAt: sql`now() - interval '1 second'` },
      { userId: user.id, key: "fresh", fingerprint: "f", statusCode: 201, response: {}, expiresAt: sql`now() + interval '23 hours'` },
    ]);
    await runCron();
    const { rows } = await db.execute<{ key: string }>(sql`select key from idempotency_keys where user_id = ${user.id}`);
    expect(rows).toEqual([{ key: "fresh" }]);
  });
});

describe("the cron prunes the outbox", () => {
  /** The row as if written `days` days ago. */
  async function writtenDaysAgo(outboxId: number, days: number): Promise<void> {
    await db.execute(sql`update email_outbox set created_at = now() - make_interval(days => ${days}) where id = ${outboxId}`);
  }
  const exists = async (outboxId: number) => (await db.execute(sql`select 1 from email_outbox where id = ${outboxId}`)).rows.length === 1;

  it(`deletes rows written more than ${OUTBOX_RETENTION_DAYS} days ago, whatever became of them, and logs how many; the orders stand`, async () => {
    const [sent, pending, suppressed, failed, young, beingSent] = await Promise.all(Array.from({ length: 6 }, () => newJob()));
    for (const job of [sent, pending, suppressed, failed, beingSent]) await writtenDaysAgo(job!.outbox_id, OUTBOX_RETENTION_DAYS + 1);
    await writtenDaysAgo(young!.outbox_id, OUTBOX_RETENTION_DAYS - 1);
    await db.execute(sql`update email_outbox set sent_at = now() - interval '30 days' where id = ${sent!.outbox_id}`);
    await db.execute(sql`update email_outbox set suppressed_at = now() - interval '30 days' where id = ${suppressed!.outbox_id}`);
    await db.execute(sql`update email_outbox set failed_at = now() - interval '30 days' where id = ${failed!.outbox_id}`);
    // Still pending (handed to the queue again a moment ago, so the same run's re-send leaves it be).
    await db.execute(
      sql`update email_outbox set enqueued_at = now() where id = any(${`{${pending!.outbox_id},${young!.outbox_id}}`}::int[])`,
    );
    // A consumer claimed it a moment ago: left until its send is recorded (the next run takes it).
    await db.execute(sql`update email_outbox set claimed_at = now(), attempts = 1 where id = ${beingSent!.outbox_id}`);

    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    await runCron();

    expect(await Promise.all([sent, pending, suppressed, failed, young, beingSent].map((job) => exists(job!.outbox_id)))).toEqual([
      false,
      false,
      false,
      false,
      true,
      true,
    ]);
    const { rows } = await db.execute<{ n: number }>(
      sql`select count(*)::int as n from orders where id = any(${`{${[sent, pending, suppressed, failed].map((j) => j!.order_id).join(",")}}`}::int[])`,
    );
    expect(rows[0]!.n).toBe(4);
    const logged = lines.map((text) => JSON.parse(text) as Record<string, unknown>).filter((line) => line.job === "prune_email_outbox");
    expect(logged).toEqual([expect.objectContaining({ level: "info", msg: "scheduled: prune_email_outbox", outcome: "ok" })]);
    expect(logged[0]!.pruned).toBeGreaterThanOrEqual(4);
    expect(logged[0]!.duration_ms).toEqual(expect.any(Number));
  });

  it(`deletes at most ${PRUNE_MAX_ROWS_PER_RUN} rows a run (a bound the test lowers to 2), the oldest first; the next run goes on`, async () => {
    const jobs = await Promise.all(Array.from({ length: 3 }, () => newJob()));
    await writtenDaysAgo(jobs[0]!.outbox_id, 400);
    await writtenDaysAgo(jobs[1]!.outbox_id, 300);
    await writtenDaysAgo(jobs[2]!.outbox_id, OUTBOX_RETENTION_DAYS + 1);

    expect(await pruneEmailOutbox(db, OUTBOX_RETENTION_DAYS, 2)).toBe(2);
    expect(await Promise.all(jobs.map((job) => exists(job.outbox_id)))).toEqual([false, false, true]);
    expect(await pruneEmailOutbox(db, OUTBOX_RETENTION_DAYS, 2)).toBeGreaterThanOrEqual(1);
    expect(await exists(jobs[2]!.outbox_id)).toBe(false);
  });
});
