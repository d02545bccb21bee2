import { env } from "cloudflare:test";
import { eq, inArray, sql } from "drizzle-orm";
import { products, type EmailKind } from "../../src/db/schema";
import type { OrderBody } from "../../src/schemas/orders";
import type { SinkEmail } from "../../scripts/mail-sink";
import type { TestUser } from "./accounts";
import { api } from "./api";
import { db } from "./db";

/**
 * Helpers of the order, queue and cron tests: placing orders through the API, reading stock, the
 * outbox and the mail sink. The test database and the mail sink are shared with other files running
 * at the same time: every test makes its own users (test/support/accounts.ts, so its own recipients)
 * and its own products (test/support/catalog.ts), and only looks at those.
 */

export async function stockOf(id: number): Promise<number> {
  const [row] = await db.select({ stock: products.stock }).from(products).where(eq(products.id, id));
  return row!.stock;
}

export async function stocksOf(ids: number[]): Promise<number[]> {
  const rows = await db.select({ id: products.id, stock: products.stock }).from(products).where(inArray(products.id, ids));
  return ids.map((id) => rows.find((row) => row.id === id)!.stock);
}

export type Line = { product_id: number; quantity: number };

export function jsonRequest(method: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): RequestInit {
  const all: Record<string, string> = { ...headers };
  if (body !== undefined) all["Content-Type"] = "application/json";
  if (token) all.Authorization = `Bearer ${token}`;
  return { method, headers: all, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) };
}

export function postOrder(token: string | null, body: unknown, idempotencyKey?: string): Promise<Response> {
  return api("/api/v1/orders", jsonRequest("POST", token, body, idempotencyKey === undefined ? {} : { "Idempotency-Key": idempotencyKey }));
}

/** Places an order that must succeed. */
export async function placeOk(user: TestUser, items: Line[]): Promise<OrderBody> {
  const res = await postOrder(user.token, { items });
  if (res.status !== 201) throw new Error(`expected 201, got ${res.status}: ${await res.text()}`);
  return (await res.json()) as OrderBody;
}

/** What the mail sink holds for an address. */
export async function mailTo(address: string): Promise<SinkEmail[]> {
  const res = await fetch(`${env.EMAIL_API_URL}?to=${encodeURIComponent(address)}`);
  if (!res.ok) throw new Error(`mail sink answered ${res.status}`);
  return ((await res.json()) as { emails: SinkEmail[] }).emails;
}

/** Polls `read` until `done` holds (or the time is up, then returns the last value). */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

export type OutboxRow = {
  id: number;
  order_id: number;
  enqueued_at: string | null;
  claimed_at: string | null;
  sent_at: string | null;
  failed_at: string | null;
  attempts: number;
  last_error: string | null;
  provider_message_id: string | null;
  suppressed_at: string | null;
  recipient: string;
  kind: EmailKind;
  payload: { to: string; order_id: number };
};

/** The order's outbox row of `kind` (an order has one per kind: its confirmation, its cancellation, its refund). */
export async function outboxOf(orderId: number, kind: EmailKind = "order_confirmation"): Promise<OutboxRow> {
  const { rows } = await db.execute<OutboxRow>(sql`select * from email_outbox where order_id = ${orderId} and kind = ${kind}`);
  if (!rows[0]) throw new Error(`no ${kind} outbox row for order ${orderId}`);
  return rows[0];
}

/** Mail sink faults for one recipient (parallel tests share the sink). */
export async function failMailTo(address: string, failStatus: number, times?: number): Promise<void> {
  const base = new URL(env.EMAIL_API_URL);
  const res = await fetch(`${base.origin}/__faults`, { method: "POST", body: JSON.stringify({ failStatus, to: address, times }) });
  if (!res.ok) throw new Error(`mail sink faults answered ${res.status}`);
}

export async function clearMailFaults(address: string): Promise<void> {
  const base = new URL(env.EMAIL_API_URL);
  await fetch(`${base.origin}/__faults?to=${encodeURIComponent(address)}`, { method: "DELETE" });
}
