import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RECIPIENT_CAP, RECIPIENT_CAP_WINDOW_SECONDS, type OrderEmailMessage } from "../../src/services/email-outbox";
import { placeOrder } from "../../src/services/order-placement";
import type { OrderBody } from "../../src/schemas/orders";
import { api } from "../support/api";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { clearMailFaults, failMailTo, jsonRequest, mailTo, placeOk, waitFor } from "../support/orders";
import { cancelWithEmail, DEAD_LETTER_QUEUE, deliver, QUEUE, refundWithEmail } from "../support/queue";
import { countedDatabase } from "../support/round-trips";

// The cap on order e-mails per recipient: whatever a customer does (orders, orders and cancels, the
// cron's re-sends), its mailbox gets at most RECIPIENT_CAP order e-mails an hour; the rest are
// suppressed, and the orders themselves all stand. Refund e-mails count but are always sent
// (UNCAPPED_EMAIL_KINDS; the argument is at RECIPIENT_CAP in src/services/email-outbox.ts). Hand-made batches (test/support/queue.ts) say when
// each delivery happens; the last tests go through the API and the real queue. Every test has its
// own mailboxes: the mail sink and the database are shared with parallel files.

const recipients: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(recipients.splice(0).map((to) => clearMailFaults(to)));
});

/** A fresh mailbox name: `${tag}@${tag}.example`, so that a log line can be searched for any part of it. */
function mailbox(): string {
  const tag = `cap${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  return `${tag}@${tag}.example`;
}

/** `n` orders of `user`, one after another, placed through the service (the real queue never sees them). */
async function ordersOf(user: TestUser, n: number): Promise<OrderEmailMessage[]> {
  const [product] = await makeProducts([{ stock: 1000, name: "Cap Test Mug" }]);
  const messages: OrderEmailMessage[] = [];
  for (let i = 0; i < n; i++) {
    const result = await placeOrder(db, { userId: user.id, tokenVersion: 0, lines: [{ product_id: product!, quantity: 1 }] });
    if (result.kind !== "created") throw new Error("expected a new order");
    messages.push({ outbox_id: result.outboxId, order_id: result.body.id });
  }
  return messages;
}

/**
 * Locks the outbox row `outboxId` until `claims` other statements wait for it, then lets go; fails
 * if they have not come within 4 s. One DO block, so the lock cannot outlive it, and each of its
 * looks at pg_locks is a query of its own (one statement would read the same rows every time).
 */
async function holdRowUntilWaitedFor(outboxId: number, claims: number): Promise<void> {
  if (!Number.isSafeInteger(outboxId) || !Number.isSafeInteger(claims)) throw new Error("integers only");
  await db.execute(
    sql.raw(`
    do $$
    declare
      deadline timestamptz := clock_timestamp() + interval '4 seconds';
      waiting int;
    begin
      perform 1 from email_outbox where id = ${outboxId} for update;
      loop
        select count(distinct pid) into waiting from pg_locks
        where not granted and ((locktype = 'transactionid' and transactionid::text = pg_current_xact_id()::text)
          or (locktype = 'tuple' and relation = 'email_outbox'::regclass));
        exit when waiting >= ${claims};
        if clock_timestamp() > deadline then
          raise exception 'only % of % claims waited for the row', waiting, ${claims};
        end if;
        perform pg_sleep(0.01);
      end loop;
    end $$
  `),
  );
}

type RowState = { order_id: number; state: "sent" | "suppressed" | "failed" | "claimed" | "pending"; attempts: number };

/** What became of each order's e-mail, in order id order. */
async function statesOf(orderIds: readonly number[]): Promise<RowState[]> {
  const { rows } = await db.execute<RowState>(sql`
    select order_id, attempts, case
      when sent_at is not null then 'sent' when suppressed_at is not null then 'suppressed'
      when failed_at is not null then 'failed' when claimed_at is not null then 'claimed' else 'pending' end as state
    from email_outbox where order_id = any(${`{${orderIds.join(",")}}`}::int[]) order by order_id
  `);
  return rows;
}

/** What became of each of these outbox rows, in the order given: kind and state. */
async function rowStates(messages: readonly OrderEmailMessage[]): Promise<Array<[string, RowState["state"]]>> {
  const { rows } = await db.execute<{ id: number; kind: string; state: RowState["state"] }>(sql`
    select id, kind, case
      when sent_at is not null then 'sent' when suppressed_at is not null then 'suppressed'
      when failed_at is not null then 'failed' when claimed_at is not null then 'claimed' else 'pending' end as state
    from email_outbox where id = any(${`{${messages.map((m) => m.outbox_id).join(",")}}`}::int[])
  `);
  return messages.map((m) => {
    const row = rows.find((r) => r.id === m.outbox_id)!;
    return [row.kind, row.state];
  });
}

const body = (messages: readonly OrderEmailMessage[]) => messages.map((message) => ({ body: message }));
const subjectsOf = async (address: string) => (await mailTo(address)).map((mail) => mail.subject).sort();
const subjectOf = (orderId: number) => `Your Tenpo order #${orderId} is confirmed`;

describe("the cap on order e-mails per recipient", () => {
  it(`sends a recipient ${RECIPIENT_CAP} e-mails of a batch of 7, the oldest orders', and suppresses the other 2; another recipient in the batch is unaffected; two statements`, async () => {
    const victim = await makeUser({ email: mailbox() });
    const other = await makeUser({ email: mailbox() });
    const mine = await ordersOf(victim, 7);
    const theirs = await ordersOf(other, 2);
    const counted = countedDatabase();
    const outcome = await deliver(QUEUE, body([...mine.slice(0, 4), theirs[0]!, ...mine.slice(4), theirs[1]!]), counted.env);

    expect(await counted.counts()).toEqual({ requests: 2, statements: 2 });
    expect(outcome).toMatchObject({ acked: Array(9).fill(true), retried: Array(9).fill(false) });
    expect(await subjectsOf(victim.email)).toEqual(
      mine
        .slice(0, 5)
        .map((m) => subjectOf(m.order_id))
        .sort(),
    );
    expect(await subjectsOf(other.email)).toEqual(theirs.map((m) => subjectOf(m.order_id)).sort());
    expect((await statesOf(mine.map((m) => m.order_id))).map((r) => [r.state, r.attempts])).toEqual([
      ...Array(5).fill(["sent", 1]),
      ...Array(2).fill(["suppressed", 0]),
    ]);
    const { rows } = await db.execute<{ claimed_at: string | null; last_error: string | null; suppressed_at: string | null }>(
      sql`select claimed_at, last_error, suppressed_at from email_outbox where id = ${mine[6]!.outbox_id}`,
    );
    expect(rows[0]).toMatchObject({ claimed_at: null, last_error: null, suppressed_at: expect.anything() });
  });

  it("counts what was sent within the hour across batches; a batch with nothing left to send costs one statement", async () => {
    const victim = await makeUser({ email: mailbox() });
    const orders = await ordersOf(victim, 9);
    await deliver(QUEUE, body(orders.slice(0, 3)));
    const counted = countedDatabase();
    const second = await deliver(QUEUE, body(orders.slice(3, 7)), counted.env);
    expect(second.acked).toEqual([true, true, true, true]);
    expect(await counted.counts()).toEqual({ requests: 2, statements: 2 });
    const third = await deliver(QUEUE, body(orders.slice(7)), counted.env);
    expect(third.acked).toEqual([true, true]);
    expect(await counted.counts()).toEqual({ requests: 3, statements: 3 });

    expect((await statesOf(orders.map((m) => m.order_id))).map((r) => r.state)).toEqual([
      ...Array(5).fill("sent"),
      ...Array(4).fill("suppressed"),
    ]);
    expect(await mailTo(victim.email)).toHaveLength(RECIPIENT_CAP);
  });

  it("forgets e-mails sent more than an hour ago", async () => {
    const victim = await makeUser({ email: mailbox() });
    const orders = await ordersOf(victim, 10);
    await deliver(QUEUE, body(orders.slice(0, 5)));
    // Four of the five went out just over an hour ago, one just under.
    const ids = `{${orders
      .slice(0, 5)
      .map((m) => m.outbox_id)
      .join(",")}}`;
    await db.execute(sql`
      update email_outbox set sent_at = now() - make_interval(secs => ${RECIPIENT_CAP_WINDOW_SECONDS} + case when id = ${orders[4]!.outbox_id} then -60 else 60 end)
      where id = any(${ids}::int[])
    `);
    await deliver(QUEUE, body(orders.slice(5)));
    expect((await statesOf(orders.slice(5).map((m) => m.order_id))).map((r) => r.state)).toEqual([
      "sent",
      "sent",
      "sent",
      "sent",
      "suppressed",
    ]);
    expect(await mailTo(victim.email)).toHaveLength(9);
  });

  it("counts e-mails another consumer is sending right now (a live claim), not claims abandoned past their lease", async () => {
    const victim = await makeUser({ email: mailbox() });
    const orders = await ordersOf(victim, 7);
    const ids = `{${orders
      .slice(0, 5)
      .map((m) => m.outbox_id)
      .join(",")}}`;
    await db.execute(sql`update email_outbox set claimed_at = now() - interval '10 seconds', attempts = 1 where id = any(${ids}::int[])`);
    expect(await deliver(QUEUE, body([orders[5]!]))).toMatchObject({ acked: [true] });
    expect((await statesOf([orders[5]!.order_id]))[0]!.state).toBe("suppressed");

    // Those consumers died: once their claims have run out, the places are free again.
    await db.execute(sql`update email_outbox set claimed_at = now() - interval '5 minutes' where id = any(${ids}::int[])`);
    expect(await deliver(QUEUE, body([orders[6]!]))).toMatchObject({ acked: [true] });
    expect((await statesOf([orders[6]!.order_id]))[0]!.state).toBe("sent");
    expect(await subjectsOf(victim.email)).toEqual([subjectOf(orders[6]!.order_id)]);
  });

  it("a send the provider refused (4xx) takes no place; a send that failed for now takes its place again when retried", async () => {
    const victim = await makeUser({ email: mailbox() });
    recipients.push(victim.email);
    const orders = await ordersOf(victim, 8);
    await failMailTo(victim.email, 422, 1);
    await deliver(QUEUE, body([orders[0]!]));
    await failMailTo(victim.email, 503, 1);
    expect(await deliver(QUEUE, body([orders[1]!]))).toMatchObject({ retried: [true] });
    await deliver(QUEUE, body(orders.slice(2, 5)));
    expect((await statesOf(orders.slice(0, 5).map((m) => m.order_id))).map((r) => r.state)).toEqual([
      "failed",
      "pending",
      "sent",
      "sent",
      "sent",
    ]);

    // Three sent: the retried one and one more fit, the next does not.
    await deliver(QUEUE, [{ body: orders[1]!, attempts: 2 }, { body: orders[5]! }, { body: orders[6]! }]);
    expect((await statesOf(orders.slice(0, 7).map((m) => m.order_id))).map((r) => r.state)).toEqual([
      "failed",
      "sent",
      "sent",
      "sent",
      "sent",
      "sent",
      "suppressed",
    ]);
    expect(await mailTo(victim.email)).toHaveLength(RECIPIENT_CAP);
  });

  it(`counts and caps cancellation e-mails like confirmations: placing and cancelling 4 orders in a row mails ${RECIPIENT_CAP} in all`, async () => {
    const victim = await makeUser({ email: mailbox() });
    const [product] = await makeProducts([{ stock: 4, name: "Cap Test Lamp" }]);
    const jobs: OrderEmailMessage[] = [];
    for (let i = 0; i < 4; i++) {
      // Each round: the order, its confirmation's delivery, the cancel, its e-mail's delivery.
      const result = await placeOrder(db, { userId: victim.id, tokenVersion: 0, lines: [{ product_id: product!, quantity: 1 }] });
      if (result.kind !== "created") throw new Error("expected a new order");
      const confirmation = { outbox_id: result.outboxId, order_id: result.body.id };
      await deliver(QUEUE, body([confirmation]));
      const cancellation = await cancelWithEmail(result.body.id);
      await deliver(QUEUE, body([cancellation]));
      jobs.push(confirmation, cancellation);
    }
    expect(await rowStates(jobs)).toEqual([
      ["order_confirmation", "sent"],
      ["order_cancelled", "sent"],
      ["order_confirmation", "sent"],
      ["order_cancelled", "sent"],
      ["order_confirmation", "sent"],
      ["order_cancelled", "suppressed"],
      ["order_confirmation", "suppressed"],
      ["order_cancelled", "suppressed"],
    ]);
    expect(await mailTo(victim.email)).toHaveLength(RECIPIENT_CAP);
  });

  it("sends refund e-mails over the cap, and counts them: the place a refund takes holds back the confirmations after it", async () => {
    const victim = await makeUser({ email: mailbox() });
    const orders = await ordersOf(victim, 7);
    await deliver(QUEUE, body(orders.slice(0, 5)));
    // One of the five went out two hours ago: four e-mails of the hour, one place left.
    await db.execute(sql`update email_outbox set sent_at = now() - interval '2 hours' where id = ${orders[0]!.outbox_id}`);

    const first = await refundWithEmail(orders[1]!.order_id);
    await deliver(QUEUE, body([first]));
    await deliver(QUEUE, body([orders[5]!]));
    const second = await refundWithEmail(orders[2]!.order_id);
    expect(await deliver(QUEUE, body([second, orders[6]!]))).toMatchObject({ acked: [true, true], retried: [false, false] });

    expect(await rowStates([first, orders[5]!, second, orders[6]!])).toEqual([
      ["order_refunded", "sent"],
      ["order_confirmation", "suppressed"],
      ["order_refunded", "sent"],
      ["order_confirmation", "suppressed"],
    ]);
    const subjects = await subjectsOf(victim.email);
    expect(subjects).toHaveLength(7);
    expect(subjects.filter((subject) => subject.endsWith("is refunded"))).toEqual(
      [`Your Tenpo order #${orders[1]!.order_id} is refunded`, `Your Tenpo order #${orders[2]!.order_id} is refunded`].sort(),
    );
  });

  it("a stale confirmation takes no place: the cancellation after it gets the last one", async () => {
    const victim = await makeUser({ email: mailbox() });
    const orders = await ordersOf(victim, 5);
    await deliver(QUEUE, body(orders.slice(0, 4)));
    // The fifth order is cancelled before its confirmation is claimed: one place left, and its
    // cancellation, not its (older) confirmation, takes it.
    const cancellation = await cancelWithEmail(orders[4]!.order_id);
    await deliver(QUEUE, body([orders[4]!, cancellation]));
    expect(await rowStates([orders[4]!, cancellation])).toEqual([
      ["order_confirmation", "suppressed"],
      ["order_cancelled", "sent"],
    ]);
    expect(await subjectsOf(victim.email)).toEqual(
      [...orders.slice(0, 4).map((m) => subjectOf(m.order_id)), `Your Tenpo order #${orders[4]!.order_id} is cancelled`].sort(),
    );
  });

  it("counts one mailbox under all its spellings: letter case, +tags, Gmail's dots and googlemail.com", async () => {
    const name = `cap${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const spellings = [
      `${name}@gmail.com`,
      `${name.slice(0, 4)}.${name.slice(4)}@gmail.com`,
      `${name.toUpperCase()}+shop@GMail.com`,
      `${name.slice(0, 2)}.${name.slice(2)}+x@googlemail.com`,
      `${name}+1@gmail.com`,
      `${name}+2@googlemail.com`,
      `${name}+3@gmail.com`,
    ];
    const users = await Promise.all(spellings.map((email) => makeUser({ email })));
    const orders = (await Promise.all(users.map((user) => ordersOf(user, 1)))).flat();
    // Elsewhere the dots are part of the address: a.b@example.com and ab@example.com are two mailboxes.
    const dotted = await makeUser({ email: `${name.slice(0, 3)}.${name.slice(3)}+tag@Example.com` });
    const plain = await makeUser({ email: `${name}@example.com` });
    const elsewhere = [...(await ordersOf(dotted, 1)), ...(await ordersOf(plain, 1))];
    await deliver(QUEUE, body([...orders, ...elsewhere]));

    const { rows } = await db.execute<{ recipient: string }>(
      sql`select distinct recipient from email_outbox where order_id = any(${`{${[...orders, ...elsewhere].map((m) => m.order_id).join(",")}}`}::int[]) order by recipient`,
    );
    expect(rows.map((r) => r.recipient)).toEqual(
      [`${name.slice(0, 3)}.${name.slice(3)}@example.com`, `${name}@example.com`, `${name}@gmail.com`].sort(),
    );
    const states = await statesOf(orders.map((m) => m.order_id));
    expect(states.filter((r) => r.state === "sent")).toHaveLength(RECIPIENT_CAP);
    expect(states.filter((r) => r.state === "suppressed")).toHaveLength(2);
    expect((await statesOf(elsewhere.map((m) => m.order_id))).map((r) => r.state)).toEqual(["sent", "sent"]);
  });

  it(`three consumers claiming for one recipient at the same moment still send it exactly ${RECIPIENT_CAP}`, async () => {
    const victim = await makeUser({ email: mailbox() });
    const [first, ...rest] = await ordersOf(victim, 13);
    // Each batch carries the first order too (a duplicate delivery), and its row is held until all
    // three claims wait for it: they then go one after the other, each with a snapshot older than
    // the others' commits. What one claims, the others must still count.
    const holder = holdRowUntilWaitedFor(first!.outbox_id, 3);
    // The claims must come after the holder has the row.
    await waitFor(
      async () => (await db.execute(sql`select id from email_outbox where id = ${first!.outbox_id} for update skip locked`)).rows.length,
      (free) => free === 0,
      3_000,
    );
    const batches = [0, 1, 2].map((k) => [first!, ...rest.filter((_, i) => i % 3 === k)]);
    await Promise.all(batches.map((batch) => deliver(QUEUE, body(batch))));
    await holder;

    const states = await statesOf([first!, ...rest].map((m) => m.order_id));
    expect(states.filter((r) => r.state === "sent")).toHaveLength(RECIPIENT_CAP);
    expect(states.filter((r) => r.state === "suppressed")).toHaveLength(13 - RECIPIENT_CAP);
    expect(await mailTo(victim.email)).toHaveLength(RECIPIENT_CAP);
  });

  it("a suppressed e-mail stays suppressed: a repeated delivery and the dead-letter queue leave it alone", async () => {
    const victim = await makeUser({ email: mailbox() });
    const orders = await ordersOf(victim, 6);
    await deliver(QUEUE, body(orders));
    const last = orders[5]!;
    expect((await statesOf([last.order_id]))[0]!.state).toBe("suppressed");
    // An hour later there would be room again; a suppressed e-mail is still not sent late.
    await db.execute(
      sql`update email_outbox set sent_at = sent_at - interval '2 hours' where id <> ${last.outbox_id} and recipient = (select recipient from email_outbox where id = ${last.outbox_id})`,
    );

    expect(await deliver(QUEUE, [{ body: last, attempts: 2 }])).toMatchObject({ acked: [true], retried: [false] });
    expect(await deliver(DEAD_LETTER_QUEUE, [{ body: last }])).toMatchObject({ acked: [true] });
    expect(await statesOf([last.order_id])).toEqual([{ order_id: last.order_id, state: "suppressed", attempts: 0 }]);
    expect(await mailTo(victim.email)).toHaveLength(RECIPIENT_CAP);
  });

  it("logs each suppression once, as a warning naming the order, never the address", async () => {
    const victim = await makeUser({ email: mailbox() });
    const orders = await ordersOf(victim, 6);
    const warnings: string[] = [];
    vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => void warnings.push(args.map(String).join(" ")));
    await deliver(QUEUE, body(orders));
    await deliver(QUEUE, [{ body: orders[5]!, attempts: 2 }]);

    const lines = warnings
      .filter((text) => text.startsWith("{"))
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .filter((line) => line.outcome === "suppressed");
    expect(lines).toEqual([
      expect.objectContaining({
        level: "warn",
        job: "order_confirmation_email",
        order_id: orders[5]!.order_id,
        outbox_id: orders[5]!.outbox_id,
        recipient_cap: RECIPIENT_CAP,
        window_s: RECIPIENT_CAP_WINDOW_SECONDS,
      }),
    ]);
    const tag = victim.email.split("@")[0]!;
    for (const text of warnings) expect(text).not.toContain(tag);
  });
});

describe("the cap through the API and the real queue", () => {
  // (Placing and cancelling in a row is capped as well: above, with the cancellations' own e-mails.
  // Here the orders stand, since a cancel before the consumer runs holds back their confirmations.)
  it("a customer who places 8 orders in a row has all 8 orders and 5 e-mails; a customer ordering meanwhile gets each of theirs", async () => {
    const victim = await makeUser({ email: mailbox(), fullName: "Victim Name" });
    const other = await makeUser({ email: mailbox() });
    const [product] = await makeProducts([{ stock: 8, name: "Cap Test Lamp" }]);
    const [spare] = await makeProducts([{ stock: 10 }]);
    const placed: OrderBody[] = [];
    const theirs: Promise<OrderBody>[] = [];
    for (let i = 0; i < 8; i++) {
      placed.push(await placeOk(victim, [{ product_id: product!, quantity: 1 }]));
      if (i % 4 === 0) theirs.push(placeOk(other, [{ product_id: spare!, quantity: 1 }]));
    }
    const otherOrders = await Promise.all(theirs);

    const settled = (rows: RowState[]) => rows.length === 8 && rows.every((r) => r.state === "sent" || r.state === "suppressed");
    const states = await waitFor(() => statesOf(placed.map((o) => o.id)), settled, 20_000);
    expect(states.filter((r) => r.state === "sent")).toHaveLength(RECIPIENT_CAP);
    expect(states.filter((r) => r.state === "suppressed")).toHaveLength(8 - RECIPIENT_CAP);
    expect(await mailTo(victim.email)).toHaveLength(RECIPIENT_CAP);
    const otherMails = await waitFor(
      () => mailTo(other.email),
      (m) => m.length === otherOrders.length,
    );
    expect(otherMails.map((m) => m.subject).sort()).toEqual(otherOrders.map((o) => subjectOf(o.id)).sort());
    // Every order stands.
    const list = await api("/api/v1/orders?page_size=50", jsonRequest("GET", victim.token));
    const page = (await list.json()) as { items: OrderBody[]; total: number };
    expect(page.total).toBe(8);
    expect(page.items.every((o) => o.status === "confirmed")).toBe(true);
  }, 60_000);
});
