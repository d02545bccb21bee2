import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { vi } from "vitest";
import type { EmailKind, OrderStatus } from "../../src/db/schema";
import worker from "../../src/index";
import type { OrderEmailMessage } from "../../src/services/email-outbox";
import { orderEmailRows } from "../../src/services/order-email-sql";
import { placeOrder } from "../../src/services/order-placement";
import { makeUser, type TestUser } from "./accounts";
import { makeProducts } from "./catalog";
import { db } from "./db";

/**
 * Helpers of the queue consumer tests: hand-made batches (createMessageBatch) run through the
 * Worker's queue handler, so that deliveries, repeats and failures happen exactly when the test
 * says; and orders placed through the service, so that the real queue never sees their rows.
 */

export const QUEUE = "tenpo-order-emails";
export const DEAD_LETTER_QUEUE = "tenpo-order-emails-dlq";

export type Delivery = { body: unknown; attempts?: number; id?: string };

export type DeliveryResult = {
  acked: boolean[];
  retried: boolean[];
  retryAll: boolean;
  /** Each message's retry delay, if it was retried with one. */
  delays: Array<number | undefined>;
};

/** Runs the Worker's queue handler on one batch (with `bindings`, default the test's); returns acks, retries and each retry's delay. */
export async function deliver(queue: string, deliveries: Delivery[], bindings: Env = env): Promise<DeliveryResult> {
  const batch = createMessageBatch<unknown>(
    queue,
    deliveries.map((d, i) => ({
      id: d.id ?? `msg-${i}-${crypto.randomUUID()}`,
      timestamp: new Date(),
      attempts: d.attempts ?? 1,
      body: d.body,
    })),
  );
  const retries = batch.messages.map((message) => vi.spyOn(message, "retry"));
  const ctx = createExecutionContext();
  await worker.queue!(batch as MessageBatch<unknown>, bindings);
  // (FetcherQueueResult is not in this project's generated runtime types, hence the shape spelled out.)
  const result = (await getQueueResult(batch, ctx)) as {
    explicitAcks: string[];
    retryMessages: Array<{ msgId: string }>;
    retryBatch: { retry: boolean };
  };
  return {
    acked: batch.messages.map((m) => result.explicitAcks.includes(m.id)),
    retried: batch.messages.map((m) => result.retryMessages.some((r) => r.msgId === m.id)),
    retryAll: result.retryBatch.retry,
    delays: retries.map((spy) => (spy.mock.calls[0]?.[0] as QueueRetryOptions | undefined)?.delaySeconds),
  };
}

/** An order of a fresh user, placed without touching the queue; its message. */
export async function orderWithEmailJob(): Promise<{ user: TestUser; message: OrderEmailMessage }> {
  const user = await makeUser({ fullName: "Queue Tester" });
  const [a] = await makeProducts([{ stock: 10, price: "7.00", name: "Lamp" }]);
  const result = await placeOrder(db, { userId: user.id, tokenVersion: 0, lines: [{ product_id: a!, quantity: 1 }] });
  if (result.kind !== "created") throw new Error("expected a new order");
  return { user, message: { outbox_id: result.outboxId, order_id: result.body.id } };
}

/**
 * Moves an order to `status` and writes its `kind` e-mail in ONE statement, the way the cancel and
 * refund statements embed orderEmailRows (src/services/order-email-sql.ts); only the status changes
 * here (no stock, no payment). Returns the new row's message, or null when the order was already in
 * `status` or already had that e-mail.
 */
export async function changeOrderWithEmail(orderId: number, status: OrderStatus, kind: EmailKind): Promise<OrderEmailMessage | null> {
  const { rows } = await db.execute<{ id: number; order_id: number }>(sql`
    with changed as (
      update orders o set status = ${status} where o.id = ${orderId} and o.status <> ${status} returning o.id
    ),
    emails as (${orderEmailRows(kind, sql`select id from changed`)})
    select id, order_id from emails
  `);
  return rows[0] ? { outbox_id: rows[0].id, order_id: rows[0].order_id } : null;
}

/** The order is cancelled and its cancellation e-mail written, in one statement (changeOrderWithEmail). */
export async function cancelWithEmail(orderId: number): Promise<OrderEmailMessage> {
  const message = await changeOrderWithEmail(orderId, "cancelled", "order_cancelled");
  if (!message) throw new Error(`order ${orderId} was not cancelled with its e-mail`);
  return message;
}

/** The order is refunded and its refund e-mail written, in one statement (changeOrderWithEmail). */
export async function refundWithEmail(orderId: number): Promise<OrderEmailMessage> {
  const message = await changeOrderWithEmail(orderId, "refunded", "order_refunded");
  if (!message) throw new Error(`order ${orderId} was not refunded with its e-mail`);
  return message;
}
