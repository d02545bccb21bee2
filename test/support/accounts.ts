import { env } from "cloudflare:test";
import { expect } from "vitest";
import { users } from "../../src/db/schema";
import type { UserBody } from "../../src/schemas/auth";
import { issueToken } from "../../src/lib/access-token";
import { api } from "./api";
import { db } from "./db";

/**
 * Accounts for tests, made one of two ways:
 *   - straight into the database (`makeUser`, `makeAccount`, `adminAndCustomerTokens`): a users row
 *     through drizzle and a token signed with the test JWT_SECRET, no password hashing, no throttle.
 *     Use these when a test just needs someone to send requests as.
 *   - through the API (`registerUser`, `loginAs`): POST /api/v1/auth/register and /login on the
 *     Worker entry, each from a client address of its own (`uniqueIp`) so the throttles count nobody
 *     else's attempts. Use these when the test is about registration, logins or what they return.
 * Every account has an address of its own: the database and the mail sink are shared with the other
 * test files running at the same time.
 */

/** A user row of the test's own and a token for it (token version 0). */
export type TestUser = { id: number; email: string; token: string };

/** A user straight into the database; `email` (default: a fresh address) for tests about one mailbox under several spellings. */
export async function makeUser(opts: { admin?: boolean; fullName?: string; email?: string } = {}): Promise<TestUser> {
  const email = opts.email ?? uniqueEmail("user");
  const [row] = await db
    .insert(users)
    .values({ email, passwordHash: "unused", isAdmin: opts.admin ?? false, fullName: opts.fullName ?? null })
    .returning({ id: users.id });
  return { id: row!.id, email, token: await issueToken({ id: row!.id, isAdmin: opts.admin ?? false, tokenVersion: 0 }, env.JWT_SECRET) };
}

/** The demo accounts' password, and the demo seed's hash of it (scripts/seed/loader.ts) (the salt travels in the hash). */
export const SEED_PASSWORD = "password123";
export const SEED_PASSWORD_HASH = "pbkdf2-sha256$100000$tcpWD0hebHmQwiam9O2D+A==$N4YCnxwd0Z1OHUqdVgkVA2YvaYLNcSNlhcNI1lgO1LU=";

/** A user that can also log in: its password. */
export type Account = TestUser & { password: string };

/** A user straight into the database with the seed's password hash, so it logs in without a registration. */
export async function makeAccount(opts: { admin?: boolean; fullName?: string } = {}): Promise<Account> {
  const email = uniqueEmail("account");
  const [row] = await db
    .insert(users)
    .values({ email, passwordHash: SEED_PASSWORD_HASH, isAdmin: opts.admin ?? false, fullName: opts.fullName ?? null })
    .returning({ id: users.id });
  const token = await issueToken({ id: row!.id, isAdmin: opts.admin ?? false, tokenVersion: 0 }, env.JWT_SECRET);
  return { id: row!.id, email, token, password: SEED_PASSWORD };
}

/** Tokens of a new admin and a new customer, for tests that only send requests as one or the other. */
export async function adminAndCustomerTokens(): Promise<{ admin: string; customer: string }> {
  const [admin, customer] = await Promise.all([makeUser({ admin: true }), makeUser()]);
  return { admin: admin.token, customer: customer.token };
}

/** An e-mail address nothing else in the run uses; `tag` says in logs which test made it. */
export const uniqueEmail = (tag = "user"): string => `${tag}-${crypto.randomUUID()}@example.com`;

/** A client address of its own: a random IPv6 /64 of the documentation range (2001:db8::/32), which the throttles key on. */
export function uniqueIp(): string {
  const hex = () => Math.floor(Math.random() * 0x10000).toString(16);
  return `2001:db8:${hex()}:${hex()}::1`;
}

/** A JSON POST through the Worker entry from `ip` (default: a client address of its own). */
export function postJson(path: string, body: unknown, ip: string = uniqueIp(), headers: Record<string, string> = {}): Promise<Response> {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "CF-Connecting-IP": ip, ...headers },
    body: JSON.stringify(body),
  });
}

/** A registered account: the API's answer, the address and the password it logs in with. */
export type RegisteredUser = { user: UserBody; email: string; password: string };

/**
 * Registers a new account through the API (POST /api/v1/auth/register, 201 expected) with a fresh
 * address (`tag` prefixes it) and password; `fields` adds to or replaces the body (e.g. full_name).
 */
export async function registerUser(opts: { tag?: string; fields?: Record<string, unknown>; ip?: string } = {}): Promise<RegisteredUser> {
  const email = uniqueEmail(opts.tag);
  const password = `pw-${crypto.randomUUID()}`;
  const res = await postJson("/api/v1/auth/register", { email, password, ...opts.fields }, opts.ip);
  expect(res.status).toBe(201);
  return { user: (await res.json()) as UserBody, email, password };
}

/** Logs in through the API (POST /api/v1/auth/login, 200 expected); the access token. */
export async function loginAs(email: string, password: string, ip?: string): Promise<string> {
  const res = await postJson("/api/v1/auth/login", { username: email, password }, ip);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}
