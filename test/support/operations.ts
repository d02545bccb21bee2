import { makeAccount, type Account } from "./accounts";
import { api } from "./api";
import { createCart, putItemOk } from "./carts";
import { makeProducts } from "./catalog";
import { placeOk } from "./orders";

/**
 * The API's operations as the OpenAPI document it serves lists them, and a valid request for each,
 * for the tests that send something to every operation (every text field, every JSON body, every
 * authenticated route). An operation that takes input or a token and has no entry in VALID_REQUESTS
 * fails those tests: a new route has to say here what a valid request to it is.
 */

export type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  example?: unknown;
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
};
type Parameter = { name: string; in: string; schema?: Schema };
export type OperationSpec = {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: unknown[];
  responses: Record<string, unknown>;
};
type OpenApiDocument = { paths: Record<string, Record<string, OperationSpec>>; components: { schemas: Record<string, Schema> } };

/** One operation: `key` is "METHOD /path" as the document writes the path ("POST /api/v1/orders"). */
export type Operation = { key: string; method: string; path: string; spec: OperationSpec; doc: OpenApiDocument };

export async function listOperations(): Promise<Operation[]> {
  const doc = (await (await api("/openapi.json")).json()) as OpenApiDocument;
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, spec]) => ({
      key: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase(),
      path,
      spec,
      doc,
    })),
  );
}

/** The schema of an operation's JSON body, references resolved; undefined without one. */
export function jsonBodySchema(operation: Operation): Schema | undefined {
  const schema = operation.spec.requestBody?.content?.["application/json"]?.schema;
  return schema && resolve(operation.doc, schema);
}

export const queryParameters = (operation: Operation): Parameter[] =>
  (operation.spec.parameters ?? []).filter((parameter) => parameter.in === "query");

/** It takes a token: one is required, or optional (a security requirement `{}` beside the bearer one). */
export const isAuthenticated = (operation: Operation): boolean => (operation.spec.security?.length ?? 0) > 0;

/** It needs a token: without one it is 401 (no requirement of its security is the empty `{}`). */
export const requiresToken = (operation: Operation): boolean =>
  isAuthenticated(operation) && !(operation.spec.security ?? []).some((requirement) => Object.keys(requirement as object).length === 0);

/** Whether a request to it needs an entry in VALID_REQUESTS: it takes a body, a query or a token. */
export const needsValidRequest = (operation: Operation): boolean =>
  jsonBodySchema(operation) !== undefined || queryParameters(operation).length > 0 || isAuthenticated(operation);

function resolve(doc: OpenApiDocument, schema: Schema): Schema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace("#/components/schemas/", "");
  const target = doc.components.schemas[name];
  if (!target) throw new Error(`unresolved ${schema.$ref}`);
  return resolve(doc, target);
}

export const isString = (schema: Schema): boolean =>
  schema.type === "string" || (Array.isArray(schema.type) && schema.type.includes("string")) || (schema.anyOf ?? []).some(isString);

/** A string field of a body: its path (["items", 0, "name"]) and its schema. */
export type StringField = { path: Array<string | number>; schema: Schema };

/** Every string property of a body schema, nested objects and array items (at index 0) included. */
export function stringFields(operation: Operation, schema: Schema, path: Array<string | number> = []): StringField[] {
  const resolved = resolve(operation.doc, schema);
  if (isString(resolved)) return [{ path, schema: resolved }];
  if (resolved.items) return stringFields(operation, resolved.items, [...path, 0]);
  return Object.entries(resolved.properties ?? {}).flatMap(([name, property]) => stringFields(operation, property, [...path, name]));
}

/**
 * What valid requests are made of; `product`, `order` and `cart` make a new one each time (the order
 * the customer's, the cart a guest cart, which any token may use and the customer may claim).
 */
export type Fixtures = {
  customer: Account;
  admin: Account;
  product: () => Promise<number>;
  order: () => Promise<number>;
  cart: () => Promise<string>;
};

/** A valid request: the path with its parameters, its query and body, whose token it carries and what it answers. */
export type ValidRequest = {
  path: string;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  as?: "customer" | "admin";
  status: number;
};

export const VALID_REQUESTS: Record<string, (f: Fixtures) => Promise<ValidRequest>> = {
  "POST /api/v1/auth/register": async () => ({
    path: "/api/v1/auth/register",
    body: { email: `valid-${crypto.randomUUID()}@example.com`, password: "correct horse battery", full_name: "Ada Lovelace" },
    status: 201,
  }),
  "POST /api/v1/auth/login": async (f) => ({
    path: "/api/v1/auth/login",
    body: { username: f.customer.email, password: f.customer.password },
    status: 200,
  }),
  "GET /api/v1/auth/me": async () => ({ path: "/api/v1/auth/me", as: "customer", status: 200 }),
  "GET /api/v1/products": async () => ({
    path: "/api/v1/products",
    query: { page: "1", page_size: "20", category: "electronics", q: "wireless", min_price: "1.00", max_price: "99.99", sort: "price" },
    status: 200,
  }),
  "POST /api/v1/products": async () => ({
    path: "/api/v1/products",
    body: { name: "Classic Mug", description: "Stoneware.", category: `valid-${crypto.randomUUID().slice(0, 8)}`, price: "9.99", stock: 5 },
    as: "admin",
    status: 201,
  }),
  "PATCH /api/v1/products/{id}": async (f) => ({
    path: `/api/v1/products/${await f.product()}`,
    body: { name: "Classic Mug", description: "Stoneware.", category: `valid-${crypto.randomUUID().slice(0, 8)}`, price: "9.99", stock: 5 },
    as: "admin",
    status: 200,
  }),
  "DELETE /api/v1/products/{id}": async (f) => ({ path: `/api/v1/products/${await f.product()}`, as: "admin", status: 204 }),
  "POST /api/v1/orders": async (f) => ({
    path: "/api/v1/orders",
    body: { items: [{ product_id: await f.product(), quantity: 1 }] },
    as: "customer",
    status: 201,
  }),
  "GET /api/v1/orders": async () => ({ path: "/api/v1/orders", query: { page: "1", page_size: "20" }, as: "customer", status: 200 }),
  "GET /api/v1/orders/{id}": async (f) => ({ path: `/api/v1/orders/${await f.order()}`, as: "customer", status: 200 }),
  "POST /api/v1/orders/{id}/cancel": async (f) => ({ path: `/api/v1/orders/${await f.order()}/cancel`, as: "customer", status: 200 }),
  // A guest's: with a token, POST /carts answers the customer's one cart, 201 only the first time.
  "POST /api/v1/carts": async () => ({ path: "/api/v1/carts", status: 201 }),
  "GET /api/v1/carts/{id}": async (f) => ({ path: `/api/v1/carts/${await f.cart()}`, as: "customer", status: 200 }),
  "PUT /api/v1/carts/{id}/items/{product_id}": async (f) => ({
    path: `/api/v1/carts/${await f.cart()}/items/${await f.product()}`,
    body: { quantity: 1 },
    as: "customer",
    status: 200,
  }),
  "DELETE /api/v1/carts/{id}/items/{product_id}": async (f) => {
    const [cart, product] = await Promise.all([f.cart(), f.product()]);
    await putItemOk(cart, product, 1);
    return { path: `/api/v1/carts/${cart}/items/${product}`, as: "customer", status: 200 };
  },
  "POST /api/v1/carts/{id}/claim": async (f) => ({ path: `/api/v1/carts/${await f.cart()}/claim`, as: "customer", status: 200 }),
};

/** Fixtures of a customer and an admin of their own. */
export async function makeFixtures(): Promise<Fixtures> {
  const [customer, admin] = await Promise.all([makeAccount(), makeAccount({ admin: true })]);
  const product = async () => (await makeProducts([{ stock: 100 }]))[0]!;
  const order = async () => (await placeOk(customer, [{ product_id: await product(), quantity: 1 }])).id;
  const cart = async () => (await createCart()).id;
  return { customer, admin, product, order, cart };
}

/** `request` to `operation` as `api` takes it; `token` replaces the one `as` names (null: none). */
export function toRequest(
  operation: Operation,
  request: ValidRequest,
  f: Fixtures,
  init: { token?: string | null; contentType?: string } = {},
): [string, RequestInit] {
  const query = request.query ? `?${new URLSearchParams(request.query)}` : "";
  const headers: Record<string, string> = {};
  const token = init.token !== undefined ? init.token : request.as ? f[request.as].token : null;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (request.body !== undefined) headers["Content-Type"] = init.contentType ?? "application/json";
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  return [request.path + query, { method: operation.method, headers, body }];
}
