/**
 * Specification of scripts/mail-sink.ts, the local e-mail API, driven from inside workerd the way the
 * Worker reaches it. The sink is shared with parallel test files: every test uses recipients of its
 * own, and faults are scoped to them.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";

const url = env.EMAIL_API_URL;
const base = new URL(url).origin;
const auth = { Authorization: `Bearer ${env.EMAIL_API_KEY}`, "Content-Type": "application/json" };
const recipient = () => `sink-${crypto.randomUUID().slice(0, 8)}@example.com`;
const message = (to: string, extra: Record<string, unknown> = {}) => ({
  from: "Tenpo <orders@tenpo.example>",
  to,
  subject: "Hi",
  text: "Hello",
  ...extra,
});

function send(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { ...auth, ...headers }, body: JSON.stringify(body) });
}

async function inbox(to: string): Promise<Array<{ id: string; to: string[]; requests: number; html: string | null }>> {
  return ((await (await fetch(`${url}?to=${encodeURIComponent(to)}`)).json()) as { emails: [] }).emails;
}

describe("the mail sink", () => {
  it("stores what it is sent and lets it be read back by recipient and by id", async () => {
    const to = recipient();
    const res = await send(message(to, { html: "<p>Hello</p>" }));
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    const emails = await inbox(to.toUpperCase());
    expect(emails).toHaveLength(1);
    expect(emails[0]).toMatchObject({ id, to: [to], html: "<p>Hello</p>", requests: 1 });
    expect(await (await fetch(`${url}/${id}`)).json()).toMatchObject({ id, subject: "Hi", text: "Hello" });
    expect((await fetch(`${url}/no-such-id`)).status).toBe(404);
    const page = await fetch(`${base}/`);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
  });

  it("keeps one e-mail per Idempotency-Key: a repeat answers the same id; another body is 409", async () => {
    const to = recipient();
    const key = crypto.randomUUID();
    const first = (await (await send(message(to), { "Idempotency-Key": key })).json()) as { id: string };
    const again = await send(message(to), { "Idempotency-Key": key });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(first);
    expect((await send(message(to, { subject: "Other" }), { "Idempotency-Key": key })).status).toBe(409);
    expect(await inbox(to)).toMatchObject([{ id: first.id, requests: 2 }]);
  });

  it("refuses a wrong key (401) and a bad body (400)", async () => {
    const to = recipient();
    expect(
      (await fetch(url, { method: "POST", headers: { ...auth, Authorization: "Bearer nope" }, body: JSON.stringify(message(to)) })).status,
    ).toBe(401);
    expect((await send({ ...message(to), to: "not-an-address" })).status).toBe(400);
    expect((await send({ ...message(to), subject: "" })).status).toBe(400);
    expect((await fetch(url, { method: "POST", headers: auth, body: "{" })).status).toBe(400);
    expect(await inbox(to)).toEqual([]);
  });

  it("fails sends to one recipient on request, a given number of times", async () => {
    const to = recipient();
    await fetch(`${base}/__faults`, { method: "POST", body: JSON.stringify({ failStatus: 503, to, times: 1 }) });
    expect((await send(message(to))).status).toBe(503);
    expect((await send(message(recipient()))).status).toBe(200);
    expect((await send(message(to))).status).toBe(200);
    expect(await inbox(to)).toHaveLength(1);
  });
});
