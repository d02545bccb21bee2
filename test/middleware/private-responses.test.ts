/**
 * Specification of `Cache-Control: private, no-store` on account responses
 * (src/middleware/private-responses.ts): every response of the auth and order routes, errors included,
 * and every response to a request with credentials that is not a public catalog read. Through the real
 * Worker entry against the real database and Redis; every test makes its own users and products.
 */
import { describe, expect, it } from "vitest";
import { isPrivateResponse } from "../../src/middleware/private-responses";
import { makeUser, postJson } from "../support/accounts";
import { api } from "../support/api";
import { makeProducts } from "../support/catalog";
import { jsonRequest, postOrder } from "../support/orders";

const PRIVATE = "private, no-store";

// postJson sends each request from a client address of its own, so the login throttle counts nobody else's attempts.

/** Each response, by a label, must have this status and be private. */
async function expectPrivate(cases: Array<[label: string, status: number, send: () => Promise<Response>]>): Promise<void> {
  for (const [label, status, send] of cases) {
    const res = await send();
    expect(res.status, `${label}: ${await res.clone().text()}`).toBe(status);
    expect(res.headers.get("Cache-Control"), label).toBe(PRIVATE);
  }
}

describe("which responses are private", () => {
  it("every response of the account routes, whatever its status or credentials", () => {
    for (const path of ["/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/auth/me", "/api/v1/orders", "/api/v1/orders/7/cancel"]) {
      expect(isPrivateResponse(path, false, null), path).toBe(true);
      expect(isPrivateResponse(path, true, "public, max-age=5"), path).toBe(true);
    }
  });

  it("a response to a request with credentials, unless it is marked public", () => {
    expect(isPrivateResponse("/api/v1/products/1", true, null)).toBe(true);
    expect(isPrivateResponse("/api/v1/products/1", true, "no-cache")).toBe(true);
    expect(isPrivateResponse("/api/v1/products/1", true, "public, max-age=3")).toBe(false);
    expect(isPrivateResponse("/api/v1/products/1", true, "max-age=3, public")).toBe(false);
    expect(isPrivateResponse("/health", true, null)).toBe(true);
  });

  it("nothing else: public reads without credentials keep what they say", () => {
    expect(isPrivateResponse("/api/v1/products", false, "public, max-age=5")).toBe(false);
    expect(isPrivateResponse("/api/v1/products/999", false, null)).toBe(false);
    expect(isPrivateResponse("/api/v1/ordersx", false, null)).toBe(false);
    expect(isPrivateResponse("/health", false, null)).toBe(false);
  });
});

describe("Cache-Control: private, no-store", () => {
  it("is on every /auth response: register, login and me, their successes and their errors", async () => {
    const email = `private-${crypto.randomUUID()}@example.com`;
    const password = "correct horse battery";
    await expectPrivate([
      ["register", 201, () => postJson("/api/v1/auth/register", { email, password })],
      ["register, email taken", 409, () => postJson("/api/v1/auth/register", { email, password })],
      ["register, bad body", 400, () => postJson("/api/v1/auth/register", { email: "no" })],
      [
        "register, bad JSON",
        400,
        () => api("/api/v1/auth/register", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{" }),
      ],
      ["login, wrong password", 401, () => postJson("/api/v1/auth/login", { username: email, password: "wrong password" })],
      ["login, bad body", 400, () => postJson("/api/v1/auth/login", { username: email })],
    ]);
    const login = await postJson("/api/v1/auth/login", { username: email, password });
    await expectPrivate([["login", 200, () => Promise.resolve(login)]]);
    const { access_token } = (await login.json()) as { access_token: string };
    await expectPrivate([
      ["me", 200, () => api("/api/v1/auth/me", { headers: { Authorization: `Bearer ${access_token}` } })],
      ["me without a token", 401, () => api("/api/v1/auth/me")],
      ["me with a bad token", 401, () => api("/api/v1/auth/me", { headers: { Authorization: "Bearer not-a-token" } })],
      ["an unknown auth route", 404, () => api("/api/v1/auth/nothing")],
    ]);
  });

  it("is on every /orders response: create, list, read and cancel, their successes and their errors", async () => {
    const user = await makeUser();
    const other = await makeUser();
    const [id, scarce] = (await makeProducts([{ stock: 10 }, { stock: 1 }])) as [number, number];
    const created = await postOrder(user.token, { items: [{ product_id: id, quantity: 1 }] });
    await expectPrivate([["create", 201, () => Promise.resolve(created)]]);
    const order = (await created.json()) as { id: number };
    await expectPrivate([
      [
        "create, replayed",
        201,
        () =>
          postOrder(user.token, { items: [{ product_id: id, quantity: 1 }] }, "private-replay").then(() =>
            postOrder(user.token, { items: [{ product_id: id, quantity: 1 }] }, "private-replay"),
          ),
      ],
      ["create without a token", 401, () => postOrder(null, { items: [{ product_id: id, quantity: 1 }] })],
      ["create, bad body", 400, () => postOrder(user.token, { items: [] })],
      ["create, unknown product", 404, () => postOrder(user.token, { items: [{ product_id: 2_000_000_000, quantity: 1 }] })],
      ["create, not enough stock", 409, () => postOrder(user.token, { items: [{ product_id: scarce, quantity: 2 }] })],
      ["create, body too large", 413, () => postOrder(user.token, "x".repeat(70_000))],
      ["list", 200, () => api("/api/v1/orders", jsonRequest("GET", user.token))],
      ["list without a token", 401, () => api("/api/v1/orders")],
      ["list, bad page", 400, () => api("/api/v1/orders?page=0", jsonRequest("GET", user.token))],
      ["read", 200, () => api(`/api/v1/orders/${order.id}`, jsonRequest("GET", user.token))],
      ["read someone else's", 404, () => api(`/api/v1/orders/${order.id}`, jsonRequest("GET", other.token))],
      ["read, bad id", 400, () => api("/api/v1/orders/abc", jsonRequest("GET", user.token))],
      ["cancel", 200, () => api(`/api/v1/orders/${order.id}/cancel`, jsonRequest("POST", user.token))],
      ["cancel someone else's", 404, () => api(`/api/v1/orders/${order.id}/cancel`, jsonRequest("POST", other.token))],
      ["cancel without a token", 401, () => api(`/api/v1/orders/${order.id}/cancel`, jsonRequest("POST", null))],
    ]);
  });

  it("is on admin writes and reads, and on any response to a request with a token that is not a public catalog read", async () => {
    const admin = await makeUser({ admin: true });
    const customer = await makeUser();
    const [id] = (await makeProducts([{}])) as [number];
    const product = { name: "private lamp", category: `private-${crypto.randomUUID().slice(0, 8)}`, price: "3.00" };
    await expectPrivate([
      ["create", 201, () => api("/api/v1/products", jsonRequest("POST", admin.token, product))],
      ["patch", 200, () => api(`/api/v1/products/${id}`, jsonRequest("PATCH", admin.token, { stock: 3 }))],
      ["patch by a customer", 403, () => api(`/api/v1/products/${id}`, jsonRequest("PATCH", customer.token, { stock: 3 }))],
      ["patch with a bad token", 401, () => api(`/api/v1/products/${id}`, jsonRequest("PATCH", "not-a-token", { stock: 3 }))],
      ["admin read", 200, () => api(`/api/v1/products/${id}`, jsonRequest("GET", admin.token))],
      ["a customer's read of a missing product", 404, () => api("/api/v1/products/2000000000", jsonRequest("GET", customer.token))],
      ["health with a token", 200, () => api("/health", jsonRequest("GET", customer.token))],
    ]);
  });

  it("is not on a public catalog read, with a customer's token or none", async () => {
    const customer = await makeUser();
    const [id] = (await makeProducts([{}])) as [number];
    for (const init of [undefined, jsonRequest("GET", customer.token)]) {
      const res = await api(`/api/v1/products/${id}`, init);
      expect(res.status).toBe(200);
      expect(res.headers.get("Cache-Control")).toMatch(/^public, max-age=\d$/);
    }
    const missing = await api("/api/v1/products/2000000000");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("Cache-Control")).toBeNull();
  });
});
