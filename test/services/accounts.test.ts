/**
 * Specification of revoking an account's tokens and deleting an account (src/services/accounts.ts, run by
 * `npm run user:revoke` and `npm run user:delete`): afterwards, every token the account was issued is 401 on
 * every authenticated route the OpenAPI document lists (walked, so a new route is covered), never a 500.
 */
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { users } from "../../src/db/schema";
import { NO_PASSWORD_HASH, deleteAccount, revokeTokens } from "../../src/services/accounts";
import { api, type ErrorBody } from "../support/api";
import { makeAccount, type Account } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { placeOk, postOrder } from "../support/orders";
import {
  VALID_REQUESTS,
  isAuthenticated,
  listOperations,
  makeFixtures,
  toRequest,
  type Fixtures,
  type Operation,
} from "../support/operations";

const authenticated = (await listOperations()).filter(isAuthenticated);

let fixtures: Fixtures;

beforeAll(async () => {
  fixtures = await makeFixtures();
});

async function expectUnauthorized(res: Response, what: string): Promise<void> {
  expect(res.status, `${what}: ${await res.clone().text()}`).toBe(401);
  expect(res.headers.get("WWW-Authenticate"), what).toContain("Bearer");
  expect(((await res.json()) as ErrorBody).error.code, what).toBe("unauthorized");
}

/** A valid request to every authenticated operation, built now (building may place orders with the fixtures' tokens). */
async function requestsToEveryAuthenticatedRoute(f: Fixtures) {
  return Promise.all(authenticated.map(async (operation) => ({ operation, request: await VALID_REQUESTS[operation.key]!(f) })));
}

/** Sends each request with `token` instead of its own: every one must be 401. */
async function expectRefusedEverywhere(
  requests: Awaited<ReturnType<typeof requestsToEveryAuthenticatedRoute>>,
  token: string,
  f: Fixtures,
): Promise<void> {
  for (const { operation, request } of requests) {
    await expectUnauthorized(await api(...toRequest(operation, request, f, { token })), operation.key);
  }
}

const rowOf = async (id: number) => (await db.select().from(users).where(eq(users.id, id)))[0];
const login = (username: string, password: string) =>
  api("/api/v1/auth/login", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "CF-Connecting-IP": `2001:db8:ac:${Math.floor(Math.random() * 0xffff).toString(16)}::1`,
    },
    body: JSON.stringify({ username, password }),
  });

it("walks every authenticated route of the document", () => {
  expect(authenticated.map((operation: Operation) => operation.key)).toEqual(
    expect.arrayContaining(["GET /api/v1/auth/me", "POST /api/v1/products", "POST /api/v1/orders", "POST /api/v1/orders/{id}/cancel"]),
  );
});

describe("revokeTokens", () => {
  it("makes the tokens of a customer and of an admin 401 on every authenticated route, which they passed before", async () => {
    const own = await makeFixtures();
    const before = await requestsToEveryAuthenticatedRoute(own);
    const after = await requestsToEveryAuthenticatedRoute(own);
    for (const { operation, request } of before) {
      const res = await api(...toRequest(operation, request, own));
      expect(res.status, `${operation.key} before: ${await res.clone().text()}`).toBe(request.status);
    }
    expect(await revokeTokens(db, own.customer.email)).toEqual({ id: own.customer.id, tokenVersion: 1 });
    expect(await revokeTokens(db, own.admin.email)).toEqual({ id: own.admin.id, tokenVersion: 1 });
    await expectRefusedEverywhere(after, own.customer.token, own);
    await expectRefusedEverywhere(after, own.admin.token, own);
  });

  it("leaves logging in again working: the new token carries the new version", async () => {
    const account = await makeAccount();
    await revokeTokens(db, account.email);
    const res = await login(account.email, account.password);
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    expect((await api("/api/v1/auth/me", { headers: { Authorization: `Bearer ${access_token}` } })).status).toBe(200);
    await expectUnauthorized(await api("/api/v1/auth/me", { headers: { Authorization: `Bearer ${account.token}` } }), "old token");
  });

  it("finds the account by its email in any case and with spaces, and raises the version by one each time", async () => {
    const account = await makeAccount();
    expect((await revokeTokens(db, ` ${account.email.toUpperCase()} `))?.tokenVersion).toBe(1);
    expect((await revokeTokens(db, account.email))?.tokenVersion).toBe(2);
    expect((await rowOf(account.id))!.tokenVersion).toBe(2);
  });

  it("answers null for an email with no account, and changes nothing", async () => {
    expect(await revokeTokens(db, `nobody-${crypto.randomUUID()}@example.com`)).toBeNull();
  });
});

describe("deleteAccount", () => {
  it("deletes an account without orders, its Idempotency-Key records with it; its token is 401 on every authenticated route", async () => {
    const account = await makeAccount();
    const [scarce] = await makeProducts([{ stock: 1 }]);
    // A stored refusal: a key record without an order.
    expect((await postOrder(account.token, { items: [{ product_id: scarce, quantity: 5 }] }, crypto.randomUUID())).status).toBe(409);
    const requests = await requestsToEveryAuthenticatedRoute(fixtures);
    expect(await deleteAccount(db, account.email)).toEqual({ id: account.id, outcome: "deleted" });
    expect(await rowOf(account.id)).toBeUndefined();
    const { rows } = await db.execute<{ n: number }>(sql`select count(*)::int as n from idempotency_keys where user_id = ${account.id}`);
    expect(rows[0]!.n).toBe(0);
    await expectRefusedEverywhere(requests, account.token, fixtures);
  });

  it("anonymises an account with orders: the orders stay, its email, name, password, role and tokens go", async () => {
    const account: Account = await makeAccount({ admin: true, fullName: "Grace Hopper" });
    const [a] = await makeProducts([{ stock: 10 }]);
    const order = await placeOk(account, [{ product_id: a!, quantity: 2 }]);
    const requests = await requestsToEveryAuthenticatedRoute(fixtures);
    expect(await deleteAccount(db, account.email.toUpperCase())).toEqual({ id: account.id, outcome: "anonymised" });
    expect(await rowOf(account.id)).toMatchObject({
      email: `deleted-${account.id}@deleted.invalid`,
      fullName: null,
      passwordHash: NO_PASSWORD_HASH,
      isAdmin: false,
      tokenVersion: 1,
    });
    await expectRefusedEverywhere(requests, account.token, fixtures);
    // The order is still the shop's record, of the same account id.
    const read = await api(`/api/v1/orders/${order.id}`, { headers: { Authorization: `Bearer ${fixtures.admin.token}` } });
    expect(await read.json()).toEqual(order);
    // No password opens it; its email is free for a new account.
    expect((await login(account.email, account.password)).status).toBe(401);
    expect((await login(`deleted-${account.id}@deleted.invalid`, account.password)).status).toBe(401);
    const again = await api("/api/v1/auth/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: account.email, password: "correct horse battery" }),
    });
    expect(again.status).toBe(201);
    expect(((await again.json()) as { id: number }).id).not.toBe(account.id);
  });

  it("answers null for an email with no account", async () => {
    expect(await deleteAccount(db, `nobody-${crypto.randomUUID()}@example.com`)).toBeNull();
  });
});
