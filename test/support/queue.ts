import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { vi } from "vitest";
import worker from "../../src/index";
import type { OrderEmailMessage } from "../../src/services/email-outbox";
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
