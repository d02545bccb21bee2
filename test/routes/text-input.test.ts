/**
 * Specification of the rule for text input (docs/api.md, "Details that clients may rely on"; src/schemas/common.ts,
 * text()): no control character and no lone surrogate in any text, in a body or a query, of any route.
 *
 * The first part walks the OpenAPI document the app serves: every string property of every JSON body and
 * every string query parameter of every operation gets a control character, in an otherwise valid request
 * (test/support/operations.ts), and must answer 400 validation_error naming that field with the
 * control-character message: never a 500 from the database, never a success, never some other rule the
 * character happens to break. A new route or field that does not use text() fails here.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { CONTROL_CHARACTER_MESSAGE, LONE_SURROGATE_MESSAGE, MULTILINE_CONTROL_CHARACTER_MESSAGE } from "../../src/schemas/common";
import { api, type ErrorBody } from "../support/api";
import {
  VALID_REQUESTS,
  jsonBodySchema,
  listOperations,
  makeFixtures,
  needsValidRequest,
  queryParameters,
  stringFields,
  isString,
  toRequest,
  type Fixtures,
  type Operation,
  type Schema,
  type ValidRequest,
} from "../support/operations";

type ValidationBody = { error: { code: string; details: Array<{ field: string; message: string }> } };

const operations = await listOperations();

/** Every text input of the API: the operation, where it is, the field's path and its schema. */
type TextInput = { key: string; where: "body" | "query"; path: Array<string | number>; schema: Schema };

const TEXT_INPUTS: TextInput[] = operations.flatMap((operation) => {
  const body = jsonBodySchema(operation);
  const inBody = body ? stringFields(operation, body).map((f): TextInput => ({ key: operation.key, where: "body", ...f })) : [];
  const inQuery = queryParameters(operation)
    .filter((parameter) => parameter.schema && isString(parameter.schema))
    .map((parameter): TextInput => ({ key: operation.key, where: "query", path: [parameter.name], schema: parameter.schema! }));
  return [...inBody, ...inQuery];
});

// Never allowed anywhere (tab, line feed and carriage return are allowed in descriptions: tested below).
const CONTROL_CHARACTERS = [
  ["U+0000", "\u0000"],
  ["U+001B (escape)", "\u001b"],
] as const;

let fixtures: Fixtures;

beforeAll(async () => {
  fixtures = await makeFixtures();
});

const operationOf = (key: string): Operation => operations.find((operation) => operation.key === key)!;

function send(key: string, request: ValidRequest): Promise<Response> {
  return api(...toRequest(operationOf(key), request, fixtures));
}

/** `text` with `character` inside it, so neither trimming nor a prefix rule can hide it. */
const withInside = (text: string, character: string) => text.slice(0, 1) + character + text.slice(1);

/** The valid value the walk alters: the valid request's own, else the document's example or first enum value. */
function validValue(current: unknown, schema: Schema): string {
  if (typeof current === "string") return current;
  if (typeof schema.example === "string") return schema.example;
  if (typeof schema.enum?.[0] === "string") return schema.enum[0];
  return "text";
}

function setAt(target: Record<string, unknown>, path: Array<string | number>, value: string): void {
  let node = target as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
  node[path.at(-1)!] = value;
}

function valueAt(target: Record<string, unknown>, path: Array<string | number>): unknown {
  return path.reduce<unknown>((node, step) => (node as Record<string | number, unknown> | undefined)?.[step], target);
}

async function expectControlCharacterRefused(res: Response, field: string, schema: Schema): Promise<void> {
  expect(res.status, await res.clone().text()).toBe(400);
  const { error } = (await res.json()) as ValidationBody;
  expect(error.code).toBe("validation_error");
  const detail = error.details.find((d) => d.field === field);
  expect(detail, `a detail for ${field}`).toBeDefined();
  // A value from a fixed list cannot be anything else anyway: its own message says so.
  if (!schema.enum) {
    expect(detail!.message, field).toBe(MULTILINE_TEXT_FIELDS.has(field) ? MULTILINE_CONTROL_CHARACTER_MESSAGE : CONTROL_CHARACTER_MESSAGE);
  }
}

/** The text fields that allow tab, line feed and carriage return (text({ multiline: true })): their refusal says so. */
const MULTILINE_TEXT_FIELDS = new Set(["description"]);

describe("the walk over the OpenAPI document", () => {
  it("has a valid request for every operation that takes a body, a query or a token, and for no other", () => {
    expect(Object.keys(VALID_REQUESTS).sort()).toEqual(
      operations
        .filter(needsValidRequest)
        .map((o) => o.key)
        .sort(),
    );
  });

  it("finds the text inputs of every resource", () => {
    const found = TEXT_INPUTS.map(({ key, path }) => `${key} ${path.join(".")}`);
    expect(found).toEqual(
      expect.arrayContaining([
        "POST /api/v1/auth/register email",
        "POST /api/v1/auth/register password",
        "POST /api/v1/auth/register full_name",
        "POST /api/v1/auth/login username",
        "POST /api/v1/auth/login password",
        "GET /api/v1/products q",
        "GET /api/v1/products category",
        "GET /api/v1/products sort",
        "GET /api/v1/products min_price",
        "POST /api/v1/products name",
        "POST /api/v1/products description",
        "POST /api/v1/products price",
        "PATCH /api/v1/products/{id} category",
      ]),
    );
  });

  it("answers every valid request it starts from as it should", async () => {
    for (const [key, build] of Object.entries(VALID_REQUESTS)) {
      const request = await build(fixtures);
      const res = await send(key, request);
      expect(res.status, `${key}: ${await res.clone().text()}`).toBe(request.status);
    }
  });
});

describe.each(CONTROL_CHARACTERS)("%s in one text input of an otherwise valid request", (_name, character) => {
  it.each(TEXT_INPUTS.map((input) => [`${input.key} ${input.where} ${input.path.join(".")}`, input] as const))(
    "%s → 400 validation_error naming the field",
    async (_label, { key, where, path, schema }) => {
      const request = await VALID_REQUESTS[key]!(fixtures);
      if (where === "body") {
        const body = structuredClone(request.body ?? {});
        setAt(body, path, withInside(validValue(valueAt(body, path), schema), character));
        request.body = body;
      } else {
        const query = { ...request.query };
        query[path[0] as string] = withInside(validValue(query[path[0] as string], schema), character);
        request.query = query;
      }
      await expectControlCharacterRefused(await send(key, request), path.join("."), schema);
    },
  );
});

describe("text in particular fields", () => {
  const register = (body: Record<string, unknown>) =>
    send("POST /api/v1/auth/register", { path: "/api/v1/auth/register", body, status: 201 });
  const newEmail = () => `text-${crypto.randomUUID()}@example.com`;
  const createProduct = (fields: Record<string, unknown>) =>
    send("POST /api/v1/products", {
      path: "/api/v1/products",
      body: { name: "Classic Mug", category: `text-${crypto.randomUUID().slice(0, 8)}`, price: "9.99", ...fields },
      as: "admin",
      status: 201,
    });

  async function detailsOf(res: Response): Promise<Array<{ field: string; message: string }>> {
    expect(res.status, await res.clone().text()).toBe(400);
    const { error } = (await res.json()) as ValidationBody;
    expect(error.code).toBe("validation_error");
    return error.details;
  }

  it("lets a description hold tabs, line feeds and carriage returns, and stores them as sent", async () => {
    const description = "Line one\r\nLine two\n\tindented";
    const res = await createProduct({ description });
    expect(res.status, await res.clone().text()).toBe(201);
    const { id } = (await res.json()) as { id: number };
    expect(((await (await api(`/api/v1/products/${id}`)).json()) as { description: string }).description).toBe(description);
  });

  it("refuses the other control characters in a description", async () => {
    expect(await detailsOf(await createProduct({ description: "bell\u0007" }))).toEqual([
      { field: "description", message: MULTILINE_CONTROL_CHARACTER_MESSAGE },
    ]);
  });

  it.each([
    ["a line feed in full_name", { full_name: "Ada\nLovelace" }, "full_name"],
    ["a carriage return in full_name", { full_name: "Ada\rLovelace" }, "full_name"],
    ["a tab in the password", { password: "correct\thorse" }, "password"],
  ])("refuses %s at registration (only descriptions may have lines)", async (_what, fields, field) => {
    const res = await register({ email: newEmail(), password: "correct horse", ...fields });
    expect(await detailsOf(res)).toEqual([{ field, message: CONTROL_CHARACTER_MESSAGE }]);
  });

  it.each([
    ["a line feed in a product name", { name: "Classic\nMug" }, "name"],
    ["a tab in a category", { category: "kitchen\tware" }, "category"],
  ])("refuses %s", async (_what, fields, field) => {
    expect(await detailsOf(await createProduct(fields))).toEqual([{ field, message: CONTROL_CHARACTER_MESSAGE }]);
  });

  it.each([
    ["DEL (U+007F)", "\u007f"],
    ["NEL (U+0085)", "\u0085"],
    ["U+009F", "\u009f"],
  ])("refuses %s like the C0 controls", async (_name, character) => {
    const res = await register({ email: newEmail(), password: "correct horse", full_name: `Ada${character}` });
    expect(await detailsOf(res)).toEqual([{ field: "full_name", message: CONTROL_CHARACTER_MESSAGE }]);
  });

  it.each([
    ["a lone high surrogate", "Ada \ud83d"],
    ["a lone low surrogate", "\ude80 Ada"],
  ])("refuses %s (no UTF-8 can hold it)", async (_what, name) => {
    const res = await register({ email: newEmail(), password: "correct horse", full_name: name });
    expect(await detailsOf(res)).toEqual([{ field: "full_name", message: LONE_SURROGATE_MESSAGE }]);
  });

  it("takes characters beyond the Basic Multilingual Plane, accents and other scripts as they are", async () => {
    const fullName = "Ada 🚀 Lovelace, Zoë 山田 — ok";
    const res = await register({ email: newEmail(), password: "correct horse", full_name: fullName });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(((await res.json()) as { full_name: string }).full_name).toBe(fullName);
  });

  it("names the control character, not the other rules it breaks (email format, length)", async () => {
    const res = await register({ email: "\u0000", password: "\u0000", full_name: `${"n".repeat(300)}\u0000` });
    expect((await detailsOf(res)).sort((a, b) => a.field.localeCompare(b.field))).toEqual([
      { field: "email", message: CONTROL_CHARACTER_MESSAGE },
      { field: "full_name", message: CONTROL_CHARACTER_MESSAGE },
      { field: "password", message: CONTROL_CHARACTER_MESSAGE },
    ]);
  });

  it.each([
    ["/api/v1/products?q=a%00b", "q"],
    ["/api/v1/products?category=%00", "category"],
    ["/api/v1/products?min_price=1%00", "min_price"],
    ["/api/v1/products?q=a%0Ab", "q"],
  ])("answers %s (percent-encoded) with 400, not 500", async (path, field) => {
    const res = await api(path);
    expect(await detailsOf(res)).toEqual([{ field, message: CONTROL_CHARACTER_MESSAGE }]);
  });

  it("answers in the error shape, with no trace of the database", async () => {
    const res = await api("/api/v1/products?q=%00");
    const body = (await res.json()) as ErrorBody;
    expect(Object.keys(body.error).sort()).toEqual(["code", "details", "message"]);
    expect(JSON.stringify(body)).not.toMatch(/0x00|invalid byte sequence|22021|postgres/i);
  });
});
