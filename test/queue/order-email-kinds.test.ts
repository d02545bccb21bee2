import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { OrderStatus } from "../../src/db/schema";
import { api } from "../support/api";
import { captureConsole } from "../support/console";
import { db } from "../support/db";
import { jsonRequest, mailTo, outboxOf } from "../support/orders";
import { cancelWithEmail, DEAD_LETTER_QUEUE, deliver, orderWithEmailJob, QUEUE, refundWithEmail } from "../support/queue";

// The e-mails of what happens to an order after it is placed, through the queue consumer to the
// mail sink: the cancellation and the refund, each picked by its outbox row's kind; and no stale
// confirmation: a confirmation whose order is no longer going ahead when it is claimed is never sent.
// Cancellations and refunds are written the way their statements write them (changeOrderWithEmail in
// test/support/queue.ts). Every test has its own customer: the mail sink is shared with parallel files.

const output = captureConsole();

/** The JSON log lines of the current test. */
const logLines = (): Array<Record<string, unknown>> =>
  output
    .filter((line) => line.text.startsWith("{"))
    .map((line) => ({ stream: line.stream, ...(JSON.parse(line.text) as Record<string, unknown>) }));

const confirmed = (orderId: number) => `Your Tenpo order #${orderId} is confirmed`;

/**
 * Changes the order's status in a transaction that stays open until a claim waits for the order row,
 * then commits: a cancel that commits while the consumer's claim is under way. Fails when no claim
 * has waited within 4 s. One DO block, so the lock cannot outlive it.
 */
async function changeStatusWhileClaimWaits(orderId: number, status: OrderStatus): Promise<void> {
  if (!Number.isSafeInteger(orderId) || !/^[a-z_]+$/.test(status)) throw new Error("an order id and a status only");
  await db.execute(
    sql.raw(`
    do $$
    declare
      deadline timestamptz := clock_timestamp() + interval '4 seconds';
      waiting int;
    begin
      update orders set status = '${status}' where id = ${orderId};
      loop
        select count(distinct pid) into waiting from pg_locks
        where not granted and locktype = 'transactionid' and transactionid::text = pg_current_xact_id()::text;
        exit when waiting >= 1;
        if clock_timestamp() > deadline then
          raise exception 'no claim waited for order %', ${orderId};
        end if;
        perform pg_sleep(0.01);
      end loop;
    end $$
  `),
  );
}

describe("the cancellation and refund e-mails", () => {
  it("sends the cancellation e-mail: the order is cancelled, its items released; a repeated delivery sends nothing", async () => {
    const { user, message } = await orderWithEmailJob();
    const cancellation = await cancelWithEmail(message.order_id);
    expect(await deliver(QUEUE, [{ body: cancellation }])).toMatchObject({ acked: [true], retried: [false] });
    expect(await deliver(QUEUE, [{ body: cancellation, attempts: 2 }])).toMatchObject({ acked: [true], retried: [false] });

    const [mail, ...more] = await mailTo(user.email);
    expect(more).toEqual([]);
    expect(mail).toMatchObject({ subject: `Your Tenpo order #${message.order_id} is cancelled`, requests: 1 });
    expect(mail!.text).toContain(`your order #${message.order_id} of `);
    expect(mail!.text).toContain("is cancelled. We have released the items we had reserved for it:");
    expect(mail!.text).toContain("  1 × Lamp (#");
    expect(mail!.text).toContain("Order total: 7.00");
    expect(mail!.html).toContain("<p><strong>Order total: 7.00</strong></p>");
    expect(await outboxOf(message.order_id, "order_cancelled")).toMatchObject({ attempts: 1, provider_message_id: mail!.id });
    expect(logLines()).toContainEqual(
      expect.objectContaining({ outcome: "ok", email_kind: "order_cancelled", order_id: message.order_id }),
    );
  });

  it("sends the refund e-mail: the amount refunded, back to the card in 5–10 business days", async () => {
    const { user, message } = await orderWithEmailJob();
    const refund = await refundWithEmail(message.order_id);
    expect(await deliver(QUEUE, [{ body: refund }])).toMatchObject({ acked: [true] });

    const [mail, ...more] = await mailTo(user.email);
    expect(more).toEqual([]);
    expect(mail!.subject).toBe(`Your Tenpo order #${message.order_id} is refunded`);
    expect(mail!.text).toContain("is refunded in full. The order was:");
    expect(mail!.text).toContain("Refunded: 7.00");
    expect(mail!.text).toContain("it takes 5–10 business days to show on your statement.");
    expect(mail!.html).toContain("<p><strong>Refunded: 7.00</strong></p>");
    expect((await outboxOf(message.order_id, "order_refunded")).sent_at).not.toBeNull();
  });
});

describe("no stale confirmation", () => {
  it("a direct order cancelled before the consumer runs: no confirmation, the cancellation e-mail is sent", async () => {
    const { user, message } = await orderWithEmailJob();
    const cancellation = await cancelWithEmail(message.order_id);
    // Both jobs reach the consumer after the cancel, in one batch.
    const outcome = await deliver(QUEUE, [{ body: message }, { body: cancellation }]);
    expect(outcome).toMatchObject({ acked: [true, true], retried: [false, false] });

    expect((await mailTo(user.email)).map((mail) => mail.subject)).toEqual([`Your Tenpo order #${message.order_id} is cancelled`]);
    const confirmation = await outboxOf(message.order_id);
    expect(confirmation).toMatchObject({ sent_at: null, claimed_at: null, attempts: 0, failed_at: null });
    expect(confirmation.suppressed_at).not.toBeNull();
    const [line] = logLines().filter((l) => l.outbox_id === message.outbox_id);
    expect(line).toMatchObject({
      stream: "log",
      level: "info",
      outcome: "skipped",
      email_kind: "order_confirmation",
      order_status: "cancelled",
      order_id: message.order_id,
    });
    for (const { text } of output) expect(text).not.toContain(user.email);
  });

  it("a confirmation of an order cancelled through the API is not sent", async () => {
    const { user, message } = await orderWithEmailJob();
    const cancel = await api(`/api/v1/orders/${message.order_id}/cancel`, jsonRequest("POST", user.token));
    expect(cancel.status).toBe(200);
    expect(await deliver(QUEUE, [{ body: message }])).toMatchObject({ acked: [true], retried: [false] });
    // (Whatever else the cancel itself mails, the confirmation is not among it.)
    expect((await mailTo(user.email)).map((mail) => mail.subject)).not.toContain(confirmed(message.order_id));
    expect((await outboxOf(message.order_id)).suppressed_at).not.toBeNull();
  });

  it.each<OrderStatus>(["expired", "refunded"])("a confirmation of an order %s when it is claimed is not sent", async (status) => {
    const { user, message } = await orderWithEmailJob();
    await db.execute(sql`update orders set status = ${status} where id = ${message.order_id}`);
    expect(await deliver(QUEUE, [{ body: message }])).toMatchObject({ acked: [true], retried: [false] });
    expect(await mailTo(user.email)).toEqual([]);
    expect((await outboxOf(message.order_id)).suppressed_at).not.toBeNull();
    expect(logLines()).toContainEqual(expect.objectContaining({ outcome: "skipped", order_status: status }));
  });

  it.each<OrderStatus>(["confirmed", "paid", "fulfilled"])("a confirmation of an order %s is sent", async (status) => {
    const { user, message } = await orderWithEmailJob();
    await db.execute(sql`update orders set status = ${status} where id = ${message.order_id}`);
    expect(await deliver(QUEUE, [{ body: message }])).toMatchObject({ acked: [true] });
    expect((await mailTo(user.email)).map((mail) => mail.subject)).toEqual([confirmed(message.order_id)]);
  });

  it("a cancellation and a refund are sent whatever their order's status: the rule holds back confirmations only", async () => {
    const first = await orderWithEmailJob();
    const second = await orderWithEmailJob();
    const cancellation = await cancelWithEmail(first.message.order_id);
    const refund = await refundWithEmail(second.message.order_id);
    // Neither order is going ahead; each has its e-mail saying so.
    expect(await deliver(QUEUE, [{ body: cancellation }, { body: refund }])).toMatchObject({ acked: [true, true] });
    expect((await mailTo(first.user.email)).map((m) => m.subject)).toEqual([`Your Tenpo order #${first.message.order_id} is cancelled`]);
    expect((await mailTo(second.user.email)).map((m) => m.subject)).toEqual([`Your Tenpo order #${second.message.order_id} is refunded`]);
  });

  it("a cancel that commits while the claim is under way: the claim waits for it, reads the order cancelled, sends nothing", async () => {
    const { user, message } = await orderWithEmailJob();
    const cancelling = changeStatusWhileClaimWaits(message.order_id, "cancelled");
    // The claim must come after the cancel holds the order.
    const held = async () =>
      (await db.execute(sql`select id from orders where id = ${message.order_id} for update skip locked`)).rows.length;
    for (let free = await held(); free > 0; free = await held()) await new Promise((resolve) => setTimeout(resolve, 10));

    const outcome = await deliver(QUEUE, [{ body: message }]);
    await cancelling;
    expect(outcome).toMatchObject({ acked: [true], retried: [false] });
    expect(await mailTo(user.email)).toEqual([]);
    expect((await outboxOf(message.order_id)).suppressed_at).not.toBeNull();
  });

  it("a confirmation another consumer is sending right now is left to it; once that claim has run out, the next claim suppresses it", async () => {
    const { user, message } = await orderWithEmailJob();
    await db.execute(sql`update email_outbox set claimed_at = now() - interval '10 seconds', attempts = 1 where id = ${message.outbox_id}`);
    await cancelWithEmail(message.order_id);
    expect(await deliver(QUEUE, [{ body: message, attempts: 2 }])).toMatchObject({ acked: [false], retried: [true] });
    expect((await outboxOf(message.order_id)).suppressed_at).toBeNull();

    // That consumer died without recording anything: the retry finds the order cancelled.
    await db.execute(sql`update email_outbox set claimed_at = now() - interval '5 minutes' where id = ${message.outbox_id}`);
    expect(await deliver(QUEUE, [{ body: message, attempts: 3 }])).toMatchObject({ acked: [true] });
    expect(await outboxOf(message.order_id)).toMatchObject({ attempts: 1, sent_at: null, claimed_at: null });
    expect((await outboxOf(message.order_id)).suppressed_at).not.toBeNull();
    expect(await mailTo(user.email)).toEqual([]);
  });

  it("stays suppressed: a later delivery, the dead-letter queue and an order changed back leave it alone", async () => {
    const { user, message } = await orderWithEmailJob();
    await cancelWithEmail(message.order_id);
    await deliver(QUEUE, [{ body: message }]);
    const suppressed = await outboxOf(message.order_id);
    expect(suppressed.suppressed_at).not.toBeNull();

    await db.execute(sql`update orders set status = 'confirmed' where id = ${message.order_id}`);
    expect(await deliver(QUEUE, [{ body: message, attempts: 2 }])).toMatchObject({ acked: [true], retried: [false] });
    expect(await deliver(DEAD_LETTER_QUEUE, [{ body: message }])).toMatchObject({ acked: [true] });
    expect(await outboxOf(message.order_id)).toEqual(suppressed);
    expect(await mailTo(user.email)).toEqual([]);
    expect(logLines().filter((l) => l.outbox_id === message.outbox_id && l.queue === QUEUE)).toEqual([
      expect.objectContaining({ outcome: "skipped", order_status: "cancelled" }),
      expect.objectContaining({ outcome: "skipped", msg: "order e-mail: already suppressed, delivery acknowledged" }),
    ]);
  });
});
