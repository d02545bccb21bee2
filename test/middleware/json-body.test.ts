/**
 * Specification of the JSON body parser (src/middleware/json-body.ts) as every route with a JSON body
 * sees it: a JSON media type may carry parameters, with or without whitespace around the `;` (RFC 9110),
 * and may be any `+json` type; other media types are 415. The routes come from the OpenAPI document,
 * their valid requests from test/support/operations.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { api, type ErrorBody } from "../support/api";
import {
  VALID_REQUESTS,
  jsonBodySchema,
  listOperations,
  makeFixtures,
  toRequest,
  type Fixtures,
  type Operation,
} from "../support/operations";

const withJsonBody = (await listOperations()).filter((operation) => jsonBodySchema(operation) !== undefined);

let fixtures: Fixtures;

beforeAll(async () => {
  fixtures = await makeFixtures();
});

async function sendAs(operation: Operation, contentType: string | null, body?: string): Promise<{ res: Response; expected: number }> {
  const request = await VALID_REQUESTS[operation.key]!(fixtures);
  const [path, init] = toRequest(operation, request, fixtures, { contentType: contentType ?? undefined });
  const headers = new Headers(init.headers);
  if (contentType === null) headers.delete("Content-Type");
  // A string body would otherwise be sent as text/plain.
  const payload = new TextEncoder().encode(body ?? (init.body as string));
  return { res: await api(path, { ...init, headers, body: payload }), expected: request.status };
}

it("finds every route with a JSON body", () => {
  expect(withJsonBody.map((operation) => operation.key).sort()).toEqual([
    "PATCH /api/v1/products/{id}",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/register",
    "POST /api/v1/orders",
    "POST /api/v1/products",
    "PUT /api/v1/carts/{id}/items/{product_id}",
  ]);
});

describe.each([
  ["application/json"],
  ["application/json; charset=utf-8"],
  ["application/json ; charset=utf-8"],
  ["application/json;charset=UTF-8"],
  ["application/json\t;\tcharset=utf-8"],
  ['application/json; charset="utf-8"'],
  ["application/json;"],
  ["Application/JSON"],
  ["application/merge-patch+json"],
  ["application/vnd.tenpo.v1+json; charset=utf-8"],
])("Content-Type: %s", (contentType) => {
  it.each(withJsonBody.map((operation) => [operation.key, operation] as const))("is JSON to %s", async (_key, operation) => {
    const { res, expected } = await sendAs(operation, contentType);
    expect(res.status, await res.clone().text()).toBe(expected);
  });
});

describe.each([
  ["text/plain"],
  ["application/x-www-form-urlencoded"],
  ["application/jsonx"],
  ["application/json-seq"],
  ["multipart/form-data; boundary=x"],
  [null],
])("Content-Type: %s", (contentType) => {
  it.each(withJsonBody.map((operation) => [operation.key, operation] as const))(
    "is refused by %s with 415 unsupported_media_type",
    async (_key, operation) => {
      const { res } = await sendAs(operation, contentType);
      expect(res.status, await res.clone().text()).toBe(415);
      expect(((await res.json()) as ErrorBody).error.code).toBe("unsupported_media_type");
    },
  );
});

it("answers malformed JSON under a media type with parameters with 400 invalid_json", async () => {
  const operation = withJsonBody.find((o) => o.key === "POST /api/v1/auth/login")!;
  const { res } = await sendAs(operation, "application/json ; charset=utf-8", '{"username": ');
  expect(res.status).toBe(400);
  expect(((await res.json()) as ErrorBody).error.code).toBe("invalid_json");
});

it("reads a body as UTF-8 whatever charset it names: JSON is UTF-8 (RFC 8259)", async () => {
  const operation = withJsonBody.find((o) => o.key === "POST /api/v1/auth/register")!;
  const body = JSON.stringify({ email: `zoe-${crypto.randomUUID()}@example.com`, password: "correct horse", full_name: "Zoë" });
  const { res } = await sendAs(operation, "application/json; charset=iso-8859-1", body);
  expect(res.status, await res.clone().text()).toBe(201);
  expect(((await res.json()) as { full_name: string }).full_name).toBe("Zoë");
});
