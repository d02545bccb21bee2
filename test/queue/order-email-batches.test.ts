import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { retryDelaySeconds } from "../../src/queue/order-emails";
import { CLAIM_LEASE_SECONDS, type OrderEmailMessage } from "../../src/services/email-outbox";
import { claimOrderEmails, recordOrderEmailSends } from "../../src/services/email-outbox-batch";
import { apiWithEnv } from "../support/api";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { clearMailFaults, failMailTo, jsonRequest, mailTo, outboxOf } from "../support/orders";
import { deliver, orderWithEmailJob, QUEUE } from "../support/queue";
import { countedDatabase } from "../support/round-trips";

// The consumer's round-trip budget: a batch of e-mails is claimed in one statement and recorded in
// one statement, whatever its size and whatever became of each message, and an order with its
// e-mail costs at most two round trips. Counts are the SQL-over-HTTP server's, for a connection
// string of the test's own (test/support/round-trips.ts).

const recipients: string[] = [];
afterEach(async () => {
  await Promise.all(recipients.splice(0).map((to) => clearMailFaults(to)));
});

async function jobs(n: number): Promise<Array<{ user: TestUser; message: OrderEmailMessage }>> {
  return Promise.all(Array.from({ length: n }, () => orderWithEmailJob()));
}

describe("the order e-mail consumer, a batch at a time", () => {
  it.each([10, 50])("claims and marks a batch of %i e-mails in two statements", async (size) => {
    const batch = await jobs(size);
    const counted = countedDatabase();
    const outcome = await deliver(
      QUEUE,
      batch.map(({ message }) => ({ body: message })),
      counted.env,
    );

    expect(await counted.counts()).toEqual({ requests: 2, statements: 2 });
    expect(outcome.acked).toEqual(Array(size).fill(true));
    const mails = await Promise.all(batch.map(({ user }) => mailTo(user.email)));
    expect(mails.map((m) => m.map((mail) => mail.requests))).toEqual(Array(size).fill([1]));
    for (const { message } of batch) {
      const row = await outboxOf(message.order_id);
      expect(row).toMatchObject({ attempts: 1, claimed_at: null, last_error: null, failed_at: null });
      expect(row.sent_at).not.toBeNull();
    }
  });

  it("one message's failure neither fails nor re-sends the others: each is settled on its own, still in two statements", async () => {
    const [ok, other, flaky, refused, sent] = await jobs(5);
    recipients.push(flaky!.user.email, refused!.user.email);
    await failMailTo(flaky!.user.email, 503, 1);
    await failMailTo(refused!.user.email, 422);
    await db.execute(sql`update email_outbox set sent_at = now() where id = ${sent!.message.outbox_id}`);

    const counted = countedDatabase();
    const outcome = await deliver(
      QUEUE,
      [
        { body: ok!.message },
        { body: other!.message },
        { body: flaky!.message, attempts: 3 },
        { body: refused!.message },
        { body: sent!.message, attempts: 2 },
        { body: "not an order e-mail" },
        { body: { outbox_id: 2_000_000_000, order_id: 1 } },
        // Beyond the integer column: it names no row, and must not fail the batch's statement.
        { body: { outbox_id: 3_000_000_000, order_id: 1 } },
        // The same message twice in one batch: sent once, the repeat waits for the claim's lease.
        { body: ok!.message },
      ],
      counted.env,
    );

    expect(await counted.counts()).toEqual({ requests: 2, statements: 2 });
    expect(outcome.acked).toEqual([true, true, false, true, true, true, true, true, false]);
    expect(outcome.retried).toEqual([false, false, true, false, false, false, false, false, true]);
    expect(outcome.delays[2]).toBe(retryDelaySeconds(3));
    expect(outcome.delays[8]).toBe(CLAIM_LEASE_SECONDS);

    expect((await mailTo(ok!.user.email)).map((m) => m.requests)).toEqual([1]);
    expect((await mailTo(other!.user.email)).map((m) => m.requests)).toEqual([1]);
    expect(await mailTo(flaky!.user.email)).toEqual([]);
    expect(await mailTo(refused!.user.email)).toEqual([]);
    expect(await mailTo(sent!.user.email)).toEqual([]);
    const flakyRow = await outboxOf(flaky!.message.order_id);
    expect(flakyRow).toMatchObject({ attempts: 1, claimed_at: null, sent_at: null, failed_at: null });
    expect(flakyRow.last_error).toContain("503");
    const refusedRow = await outboxOf(refused!.message.order_id);
    expect(refusedRow.failed_at).not.toBeNull();
    expect(refusedRow.last_error).toContain("422");

    // The retries alone come back: the flaky one is sent now, the one already sent is not sent again.
    const again = await deliver(
      QUEUE,
      [
        { body: flaky!.message, attempts: 4 },
        { body: ok!.message, attempts: 2 },
      ],
      counted.env,
    );
    expect(again.acked).toEqual([true, true]);
    expect((await mailTo(flaky!.user.email)).map((m) => m.requests)).toEqual([1]);
    expect((await mailTo(ok!.user.email)).map((m) => m.requests)).toEqual([1]);
    expect(await counted.counts()).toEqual({ requests: 4, statements: 4 });
  });

  it("two consumers with overlapping batches (a duplicate delivery, a cron re-send) send every e-mail once, without deadlocking", async () => {
    const batch = await jobs(8);
    const messages = batch.map(({ message }) => ({ body: message }));
    const [forward, backward] = await Promise.all([deliver(QUEUE, messages), deliver(QUEUE, [...messages].reverse())]);
    const backwardInOrder = { acked: [...backward.acked].reverse(), delays: [...backward.delays].reverse() };

    for (const [i, { user }] of batch.entries()) {
      expect((await mailTo(user.email)).map((m) => m.requests)).toEqual([1]);
      // Each message was sent by one consumer; the other found it sent, or claimed (a lease, not a
      // database error: that would be retried after the first backoff step instead).
      expect(forward.acked[i] || backwardInOrder.acked[i]).toBe(true);
      for (const delay of [forward.delays[i], backwardInOrder.delays[i]]) {
        if (delay !== undefined) expect(delay).toBeGreaterThan(retryDelaySeconds(1));
      }
    }
  });

  it("records an error text Postgres could not store as is (NUL, a lone surrogate) instead of failing the batch", async () => {
    const [first, second] = await jobs(2);
    const { message } = first!;
    const claims = await claimOrderEmails(db, [message.outbox_id, second!.message.outbox_id]);
    expect([...claims.values()].map((c) => c.state)).toEqual(["claimed", "claimed"]);
    await recordOrderEmailSends(db, [
      { outboxId: message.outbox_id, sent: false, error: "e-mail API answered 500: bad\u0000byte \ud800 here", permanent: false },
      { outboxId: second!.message.outbox_id, sent: true, providerMessageId: "provider-1" },
    ]);
    expect(await outboxOf(message.order_id)).toMatchObject({
      last_error: "e-mail API answered 500: badbyte \ufffd here",
      claimed_at: null,
      sent_at: null,
    });
    expect(await outboxOf(second!.message.order_id)).toMatchObject({ provider_message_id: "provider-1", claimed_at: null });
  });

  it("costs no round trip for ids that cannot name a row", async () => {
    const counted = countedDatabase();
    const claims = await claimOrderEmails(createDb(counted.env), [0, -1, 3_000_000_000]);
    expect([...claims.values()]).toEqual([{ state: "missing" }, { state: "missing" }, { state: "missing" }]);
    await recordOrderEmailSends(createDb(counted.env), []);
    expect(await counted.counts()).toEqual({ requests: 0, statements: 0 });
  });
});

describe("an order and its e-mail, end to end", () => {
  it("N orders → N e-mails in the mail sink, in at most 2N round trips in all (N + 2 with one batch)", async () => {
    const N = 10;
    const counted = countedDatabase();
    const [product] = await makeProducts([{ stock: 100, price: "3.50", name: "Teapot" }]);
    const buyers = await Promise.all(Array.from({ length: N }, () => makeUser({ fullName: "End To End" })));
    // The queue binding keeps what the requests enqueue after their responses; the consumer then
    // gets it as one batch, as Cloudflare Queues delivers under load.
    const enqueued: OrderEmailMessage[] = [];
    const queue = { send: async (body: OrderEmailMessage) => void enqueued.push(body) } as unknown as Queue;

    const responses = await Promise.all(
      buyers.map((buyer) =>
        apiWithEnv(
          { DATABASE_URL: counted.env.DATABASE_URL, ORDER_EMAILS: queue },
          "/api/v1/orders",
          jsonRequest("POST", buyer.token, { items: [{ product_id: product, quantity: 1 }] }),
        ),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(N).fill(201));
    expect(await counted.counts()).toEqual({ requests: N, statements: N });
    expect(enqueued).toHaveLength(N);

    const outcome = await deliver(
      QUEUE,
      enqueued.map((body) => ({ body })),
      counted.env,
    );
    expect(outcome.acked).toEqual(Array(N).fill(true));
    for (const buyer of buyers) {
      const mails = await mailTo(buyer.email);
      expect(mails).toHaveLength(1);
      expect(mails[0]).toMatchObject({ subject: expect.stringMatching(/^Your Tenpo order #\d+ is confirmed$/), requests: 1 });
    }
    const total = await counted.counts();
    expect(total.requests).toBeLessThanOrEqual(2 * N);
    expect(total).toEqual({ requests: N + 2, statements: N + 2 });
  });
});
