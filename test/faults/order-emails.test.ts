import { env } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { retryDelaySeconds } from "../../src/queue/order-emails";
import type { OrderEmailMessage } from "../../src/services/email-outbox";
import type { TestUser } from "../support/accounts";
import { db } from "../support/db";
import { mailTo, outboxOf } from "../support/orders";
import { deliver, orderWithEmailJob, QUEUE } from "../support/queue";
import { clearFaults, markedDatabase, quietLogs, setSqlFault, sqlFault } from "./support";

// The order e-mail consumer when the database fails one of a batch's two statements: every message
// of the batch is then settled on its own (retried with its own backoff), and however the retries
// go, each order gets one e-mail (the claim's lease, the provider's Idempotency-Key).

afterEach(async () => {
  vi.restoreAllMocks();
  await clearFaults();
});

async function batchOf(n: number): Promise<{ jobs: Array<{ user: TestUser; message: OrderEmailMessage }>; bindings: Env; marker: string }> {
  const jobs = await Promise.all(Array.from({ length: n }, () => orderWithEmailJob()));
  const { marker, url } = markedDatabase("mailfault");
  return { jobs, bindings: { ...env, DATABASE_URL: url }, marker };
}

describe("a batch of order e-mails when the database fails", () => {
  it("the claim fails: every message is retried after its own backoff, nothing is sent", async () => {
    quietLogs();
    const { jobs, bindings, marker } = await batchOf(3);
    await setSqlFault(marker, { failStatus: 503 });
    const outcome = await deliver(
      QUEUE,
      jobs.map(({ message }, i) => ({ body: message, attempts: i + 1 })),
      bindings,
    );

    expect(await sqlFault(marker)).toMatchObject({ matched: 1 }); // one statement for the batch, not retried
    expect(outcome).toMatchObject({ acked: [false, false, false], retried: [true, true, true] });
    expect(outcome.delays).toEqual([1, 2, 3].map(retryDelaySeconds));
    for (const { user, message } of jobs) {
      expect(await mailTo(user.email)).toEqual([]);
      expect(await outboxOf(message.order_id)).toMatchObject({ attempts: 0, claimed_at: null, sent_at: null });
    }
  });

  it("the record of the sends fails: every sent message is retried, and the retries deliver no e-mail twice", async () => {
    quietLogs();
    const { jobs, bindings, marker } = await batchOf(3);
    // The claim gets through; the first e-mail API call then breaks the database for what follows.
    const realFetch = globalThis.fetch;
    let broken: Promise<void> | undefined;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (url.startsWith(env.EMAIL_API_URL)) await (broken ??= setSqlFault(marker, { failStatus: 503 }));
      return realFetch(input, init);
    });
    const outcome = await deliver(
      QUEUE,
      jobs.map(({ message }) => ({ body: message })),
      bindings,
    );

    expect(await sqlFault(marker)).toMatchObject({ matched: 1 });
    expect(outcome).toMatchObject({ acked: [false, false, false], retried: [true, true, true] });
    expect(outcome.delays).toEqual(Array(3).fill(retryDelaySeconds(1)));
    for (const { user, message } of jobs) {
      expect((await mailTo(user.email)).map((m) => m.requests)).toEqual([1]);
      // Sent, but the database does not know: the claim stays until its lease runs out.
      const row = await outboxOf(message.order_id);
      expect(row).toMatchObject({ attempts: 1, sent_at: null });
      expect(row.claimed_at).not.toBeNull();
    }

    // Later: the database is back and the leases have run out; the retries send again with the same
    // Idempotency-Keys, and the provider answers them without a second e-mail.
    vi.restoreAllMocks();
    await clearFaults();
    const ids = `{${jobs.map(({ message }) => message.outbox_id).join(",")}}`;
    await db.execute(sql`update email_outbox set claimed_at = claimed_at - interval '2 minutes' where id = any(${ids}::int[])`);
    const retry = await deliver(
      QUEUE,
      jobs.map(({ message }) => ({ body: message, attempts: 2 })),
      bindings,
    );
    expect(retry.acked).toEqual([true, true, true]);
    for (const { user, message } of jobs) {
      const mails = await mailTo(user.email);
      expect(mails.map((m) => m.requests)).toEqual([2]);
      expect(await outboxOf(message.order_id)).toMatchObject({ attempts: 2, claimed_at: null, provider_message_id: mails[0]!.id });
    }
  });
});
