import { describe, expect, it } from "vitest";
import { ConformanceChecker, ConformanceError, type OpenApiDocument } from "./openapi-conformance";
import { api } from "./api";

// The check test/support/api.ts runs on every response: it must fail where the document and the
// response disagree, or it proves nothing.

const doc: OpenApiDocument = {
  paths: {
    "/things/{id}": {
      get: {
        responses: {
          200: {
            headers: { ETag: { required: true, schema: { type: "string" } } },
            content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" } } },
          },
          404: { content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
        },
      },
    },
    "/things/{id}/count": {
      get: { responses: { 200: { content: { "application/json": { schema: { type: "integer" } } } } } },
    },
    "/things": { delete: { responses: { 202: {}, 204: {} } } },
  },
  components: {
    schemas: {
      Thing: {
        type: "object",
        properties: { id: { type: "integer", minimum: 1 }, name: { type: "string" } },
        required: ["id", "name"],
      },
      Error: {
        type: "object",
        properties: { error: { type: "object", properties: { code: { type: "string" } }, required: ["code"] } },
        required: ["error"],
      },
    },
  },
};

const checker = new ConformanceChecker(doc);
const get = (path: string) => ({ method: "GET", url: `http://tenpo.localhost${path}` });
const json = (body: unknown, status = 200, headers: Record<string, string> = { ETag: '"a"' }) => Response.json(body, { status, headers });

describe("ConformanceChecker", () => {
  it("accepts a response the document describes, refs resolved", async () => {
    await checker.check(get("/things/7"), json({ id: 7, name: "seven" }));
    await checker.check(get("/things/7"), json({ error: { code: "not_found" } }, 404, {}));
    await checker.check(get("/things/7/count"), json(3));
    await checker.check({ method: "DELETE", url: "http://tenpo.localhost/things" }, new Response(null, { status: 204 }));
  });

  it("fails on a status the operation does not list", async () => {
    const check = checker.check(get("/things/7"), json({ error: { code: "conflict" } }, 409, {}));
    await expect(check).rejects.toThrow(ConformanceError);
    await expect(check).rejects.toThrow("GET /things/7 → 409: status 409 is not documented; listed: 200, 404 (operation GET /things/{id})");
  });

  it("fails on a body that does not match the schema, naming the field", async () => {
    await expect(checker.check(get("/things/7"), json({ id: 0, name: "zero" }))).rejects.toThrow(/the body does not match.*#\/id/);
    await expect(checker.check(get("/things/7"), json({ id: 7 }))).rejects.toThrow(/the body does not match.*name/);
    await expect(checker.check(get("/things/7/count"), json("3"))).rejects.toThrow(/the body does not match/);
  });

  it("fails on a missing required header, an undocumented media type and an undocumented body", async () => {
    await expect(checker.check(get("/things/7"), json({ id: 7, name: "seven" }, 200, {}))).rejects.toThrow(
      "the required header ETag is missing",
    );
    const html = new Response("<p>7</p>", { headers: { "Content-Type": "text/html", ETag: '"a"' } });
    await expect(checker.check(get("/things/7"), html)).rejects.toThrow('media type "text/html" is not documented');
    const remove = { method: "DELETE", url: "http://tenpo.localhost/things" };
    await expect(checker.check(remove, json("gone", 202))).rejects.toThrow("the document lists no body, the response has 6 characters");
    await expect(checker.check(remove, json("gone", 200))).rejects.toThrow("status 200 is not documented");
  });

  it("holds a path or a method the document does not list to a 404 in the error shape", async () => {
    await checker.check(get("/nope"), json({ error: { code: "not_found" } }, 404, {}));
    await checker.check({ method: "POST", url: "http://tenpo.localhost/things/7" }, json({ error: { code: "not_found" } }, 404, {}));
    await expect(checker.check(get("/nope"), json({ ok: true }))).rejects.toThrow("GET /nope → 200: status 200 is not documented");
    await expect(checker.check(get("/nope"), json({ message: "no" }, 404, {}))).rejects.toThrow(/the body does not match/);
  });

  it("leaves the body of a response it has checked readable", async () => {
    const res = json({ id: 7, name: "seven" });
    await checker.check(get("/things/7"), res);
    expect(await res.json()).toEqual({ id: 7, name: "seven" });
  });
});

describe("the API's own document", () => {
  it("is what api() checks every response against: a 200 of GET /openapi.json conforms to itself", async () => {
    const res = await api("/openapi.json");
    expect(res.status).toBe(200);
    const own = new ConformanceChecker((await res.json()) as OpenApiDocument);
    // A product list that lost its items would not pass.
    const broken = Response.json(
      { total: 0, page: 1, page_size: 20, total_pages: 0 },
      { headers: { ETag: '"a"', "Cache-Control": "public, max-age=5", "X-Cache": "MISS" } },
    );
    await expect(own.check(get("/api/v1/products"), broken)).rejects.toThrow(/GET \/api\/v1\/products → 200: the body does not match/);
  });
});
