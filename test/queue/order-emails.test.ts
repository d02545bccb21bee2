import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { emailIdempotencyKey, retryDelaySeconds } from "../../src/queue/order-emails";
import { renderOrderConfirmation } from "../../src/queue/render-email";
import type { OrderEmailPayload } from "../../src/services/email-outbox";
import { db } from "../support/db";
import { clearMailFaults, failMailTo, mailTo, outboxOf } from "../support/orders";
import { DEAD_LETTER_QUEUE, deliver, orderWithEmailJob, QUEUE } from "../support/queue";

// The order e-mail consumers, driven with hand-made batches (createMessageBatch) so that deliveries,
// repeats and failures happen exactly when the test says. Orders are placed through the service, not
// the API, so the real queue never sees these outbox rows. The mail sink is shared with parallel
// files: every test has its own recipient, and faults are scoped to it.

const recipients: string[] = [];
afterEach(async () => {
  await Promise.all(recipients.splice(0).map((to) => clearMailFaults(to)));
});

describe("the order e-mail consumer", () => {
  it("sends once and records it: a second delivery of the same message sends nothing", async () => {
    const { user, message } = await orderWithEmailJob();
    const first = await deliver(QUEUE, [{ body: message }]);
    expect(first).toMatchObject({ acked: [true], retried: [false] });
    const second = await deliver(QUEUE, [{ body: message, attempts: 2 }]);
    expect(second).toMatchObject({ acked: [true], retried: [false] });

    const mails = await mailTo(user.email);
    expect(mails).toHaveLength(1);
    // The provider was called once: the second delivery stopped at the claim.
    expect(mails[0]).toMatchObject({
      subject: `Your Tenpo order #${message.order_id} is confirmed`,
      requests: 1,
      idempotency_key: emailIdempotencyKey(env, message.outbox_id),
    });
    expect(await outboxOf(message.order_id)).toMatchObject({ attempts: 1, claimed_at: null, provider_message_id: mails[0]!.id });
    expect((await outboxOf(message.order_id)).sent_at).not.toBeNull();
  });

  it("the same message twice in one batch: one sends, the other waits for the claim's lease", async () => {
    const { user, message } = await orderWithEmailJob();
    const outcome = await deliver(QUEUE, [{ body: message }, { body: message }]);
    // Usually one claims and the other finds the claim (retried after the lease); if the first has
    // already finished, the other finds it sent (acknowledged). Never two sends.
    expect(outcome.acked.filter(Boolean).length).toBeGreaterThanOrEqual(1);
    expect(outcome.acked.map((acked, i) => acked || outcome.retried[i])).toEqual([true, true]);
    for (const delay of outcome.delays.filter((d) => d !== undefined)) {
      expect(delay).toBeGreaterThan(0);
      expect(delay).toBeLessThanOrEqual(60);
    }
    const mails = await mailTo(user.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.requests).toBe(1);
  });

  it("retries with exponential backoff while the e-mail API fails, recording each attempt; then sends", async () => {
    const { user, message } = await orderWithEmailJob();
    recipients.push(user.email);
    await failMailTo(user.email, 503, 2);

    const first = await deliver(QUEUE, [{ body: message, attempts: 1 }]);
    expect(first).toMatchObject({ acked: [false], retried: [true], delays: [10] });
    let row = await outboxOf(message.order_id);
    expect(row).toMatchObject({ attempts: 1, claimed_at: null, sent_at: null, failed_at: null });
    expect(row.last_error).toContain("503");

    const second = await deliver(QUEUE, [{ body: message, attempts: 2 }]);
    expect(second).toMatchObject({ retried: [true], delays: [20] });

    const third = await deliver(QUEUE, [{ body: message, attempts: 3 }]);
    expect(third).toMatchObject({ acked: [true], retried: [false] });
    row = await outboxOf(message.order_id);
    expect(row).toMatchObject({ attempts: 3, last_error: null, failed_at: null });
    expect(row.sent_at).not.toBeNull();
    expect(await mailTo(user.email)).toHaveLength(1);
  });

  it("gives up at once when the e-mail API refuses the message (4xx): failed, acknowledged", async () => {
    const { user, message } = await orderWithEmailJob();
    recipients.push(user.email);
    await failMailTo(user.email, 422);
    const outcome = await deliver(QUEUE, [{ body: message }]);
    expect(outcome).toMatchObject({ acked: [true], retried: [false] });
    const row = await outboxOf(message.order_id);
    expect(row.failed_at).not.toBeNull();
    expect(row.last_error).toContain("422");
    // A later delivery does not try again.
    await clearMailFaults(user.email);
    expect(await deliver(QUEUE, [{ body: message, attempts: 2 }])).toMatchObject({ acked: [true] });
    expect(await mailTo(user.email)).toHaveLength(0);
  });

  it("a consumer that died between sending and recording: the next delivery repeats the call, the provider keeps one e-mail", async () => {
    const { user, message } = await orderWithEmailJob();
    // The dead consumer's send: the same e-mail with the same Idempotency-Key, and a claim it never released.
    const { rows } = await db.execute<{ payload: OrderEmailPayload }>(
      sql`select payload from email_outbox where id = ${message.outbox_id}`,
    );
    const email = renderOrderConfirmation(rows[0]!.payload, env.EMAIL_FROM);
    const sent = await fetch(env.EMAIL_API_URL, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${env.EMAIL_API_KEY}`,
        "Content-Type": "application/json",
        "Idempotency-Key": emailIdempotencyKey(env, message.outbox_id),
      },
      body: JSON.stringify(email),
    });
    const { id } = (await sent.json()) as { id: string };
    await db.execute(sql`update email_outbox set claimed_at = now() - interval '5 minutes', attempts = 1 where id = ${message.outbox_id}`);

    const outcome = await deliver(QUEUE, [{ body: message, attempts: 2 }]);
    expect(outcome).toMatchObject({ acked: [true] });
    const mails = await mailTo(user.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ id, requests: 2 });
    expect(await outboxOf(message.order_id)).toMatchObject({ attempts: 2, provider_message_id: id, claimed_at: null });
  });

  it("a live claim of another consumer: retried when its lease ends, nothing sent now", async () => {
    const { user, message } = await orderWithEmailJob();
    await db.execute(sql`update email_outbox set claimed_at = now() - interval '20 seconds', attempts = 1 where id = ${message.outbox_id}`);
    const outcome = await deliver(QUEUE, [{ body: message, attempts: 2 }]);
    expect(outcome).toMatchObject({ acked: [false], retried: [true] });
    expect(outcome.delays[0]).toBeGreaterThanOrEqual(35);
    expect(outcome.delays[0]).toBeLessThanOrEqual(41);
    expect(await mailTo(user.email)).toHaveLength(0);
  });

  it("acknowledges messages it cannot use: malformed, or naming no outbox row", async () => {
    const outcome = await deliver(QUEUE, [
      { body: "not an object" },
      { body: { outbox_id: "1", order_id: 1 } },
      { body: { outbox_id: 2_000_000_000, order_id: 2_000_000_000 } },
    ]);
    expect(outcome).toMatchObject({ acked: [true, true, true], retried: [false, false, false] });
  });

  it("retries the whole batch of a queue it does not know", async () => {
    const outcome = await deliver("some-other-queue", [{ body: { outbox_id: 1, order_id: 1 } }]);
    expect(outcome.retryAll).toBe(true);
  });

  it("backs off exponentially: 10 s, 20 s, 40 s, … at most 15 minutes", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(retryDelaySeconds)).toEqual([10, 20, 40, 80, 160, 320, 640, 900]);
  });
});

describe("the dead-letter consumer", () => {
  it("records what finally failed: failed_at, the last error, the attempts; later deliveries send nothing", async () => {
    const { user, message } = await orderWithEmailJob();
    await db.execute(sql`
      update email_outbox set attempts = 6, last_error = 'e-mail API answered 503: down', claimed_at = null
      where id = ${message.outbox_id}
    `);
    const outcome = await deliver(DEAD_LETTER_QUEUE, [{ body: message }]);
    expect(outcome).toMatchObject({ acked: [true], retried: [false] });
    const row = await outboxOf(message.order_id);
    expect(row.failed_at).not.toBeNull();
    expect(row.last_error).toBe("e-mail API answered 503: down (dead-lettered after 6 attempts)");

    // Redelivered on the main queue (or re-sent by the cron): nothing goes out.
    expect(await deliver(QUEUE, [{ body: message }])).toMatchObject({ acked: [true] });
    expect(await mailTo(user.email)).toHaveLength(0);
    // A second dead letter of the same message changes nothing.
    await deliver(DEAD_LETTER_QUEUE, [{ body: message }]);
    expect((await outboxOf(message.order_id)).last_error).toBe("e-mail API answered 503: down (dead-lettered after 6 attempts)");
  });

  it("leaves a row alone that was sent after all", async () => {
    const { message } = await orderWithEmailJob();
    await deliver(QUEUE, [{ body: message }]);
    expect(await deliver(DEAD_LETTER_QUEUE, [{ body: message }])).toMatchObject({ acked: [true] });
    const row = await outboxOf(message.order_id);
    expect(row.failed_at).toBeNull();
    expect(row.sent_at).not.toBeNull();
  });

  it("acknowledges a malformed dead letter", async () => {
    expect(await deliver(`${QUEUE}-staging-dlq`, [{ body: null }])).toMatchObject({ acked: [true] });
  });
});
