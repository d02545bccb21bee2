import { Validator, type OutputUnit, type Schema } from "@cfworker/json-schema";

/**
 * Checks a response against the OpenAPI document the API serves: the operation (method and path)
 * lists the status (or `default`), the body is of a media type listed for that status and its JSON
 * matches the schema there, and every header the document marks `required` is present and fits its
 * schema. test/support/api.ts runs it on every response the tests receive, so the document cannot
 * drift from what the server does without a test failing.
 *
 * JSON Schema validation is @cfworker/json-schema (draft 2020-12, which OpenAPI 3.1 schemas are): it
 * runs inside workerd, where code generation (`new Function`) is not allowed. `$ref`s point into the
 * document's `components`, which every schema is validated together with.
 */

type HeaderSpec = { required?: boolean; schema?: Schema };
type MediaTypeSpec = { schema?: Schema };
type ResponseSpec = { description?: string; headers?: Record<string, HeaderSpec>; content?: Record<string, MediaTypeSpec> };
type OperationSpec = { responses?: Record<string, ResponseSpec> };
/** The parts of an OpenAPI 3.1 document the check reads. */
export type OpenApiDocument = {
  paths: Record<string, Record<string, OperationSpec>>;
  components?: { schemas?: Record<string, Schema> };
};

/** What the check needs of the request: its method, its URL and (for CORS preflights) its headers. */
export type RequestLine = { method: string; url: string; headers?: Headers };

export class ConformanceError extends Error {
  override name = "ConformanceError";
}

/** Requests the document does not describe and what they may answer instead; the reason is beside each. */
const UNDOCUMENTED: Array<{ matches: (method: string, path: string, request: RequestLine) => boolean; why: string }> = [
  // The page's two Swagger UI files (src/routes/docs.ts) are static assets, not operations; /docs itself is documented.
  { matches: (method, path) => method === "GET" && path.startsWith("/docs/"), why: "the Swagger UI page's files" },
  // CORS preflights are answered by the CORS middleware before any route, for every path.
  { matches: (method, _path, request) => method === "OPTIONS" && isPreflight(request), why: "a CORS preflight" },
];

function isPreflight(request: RequestLine): boolean {
  return request.headers?.has("Access-Control-Request-Method") ?? false;
}

/**
 * What the app answers where no operation matches: 404 `not_found` from its notFound handler, or
 * what the middleware in front of every route answers first (src/app.ts): 413 for an oversized body,
 * 400 `invalid_json` for a malformed one under /api, 503 while the settings are refused.
 */
const NO_ROUTE: OperationSpec = {
  responses: Object.fromEntries(
    ["400", "404", "413", "503"].map((status) => [
      status,
      { content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
    ]),
  ),
};

type Match = { template: string; spec: OperationSpec } | { template: null; spec: OperationSpec } | "undocumented";

/** A conformance check for one document; `check` throws a ConformanceError naming what does not match. */
export class ConformanceChecker {
  private readonly templates: Array<{ template: string; pattern: RegExp; literal: number }>;
  private readonly validators = new Map<string, Validator>();

  constructor(private readonly doc: OpenApiDocument) {
    this.templates = Object.keys(doc.paths)
      .map((template) => ({
        template,
        pattern: new RegExp(
          `^${template
            .split(/\{[^}]+\}/)
            .map(escapeRegExp)
            .join("[^/]+")}$`,
        ),
        literal: template.replace(/\{[^}]+\}/g, "").length,
      }))
      // The most literal template first: /orders/{id}/cancel before anything looser.
      .sort((a, b) => b.literal - a.literal);
  }

  /** Throws when `response` (to `request`) is not what the document says; reads a clone of the body. */
  async check(request: RequestLine, response: Response): Promise<void> {
    const method = request.method.toUpperCase();
    const path = new URL(request.url).pathname;
    const match = this.match(method, path, request);
    if (match === "undocumented") return;
    const where = `${method} ${path} → ${response.status}`;
    const fail = (problem: string): never => {
      throw new ConformanceError(`${where}: ${problem}${match.template ? ` (operation ${method} ${match.template})` : " (no operation)"}`);
    };

    const responses = match.spec.responses ?? {};
    const status = String(response.status);
    const spec = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
    if (!spec) fail(`status ${status} is not documented; listed: ${Object.keys(responses).join(", ") || "none"}`);
    const key = `${match.template ?? "no route"} ${method} ${status}`;

    for (const [name, header] of Object.entries(spec!.headers ?? {})) {
      const value = response.headers.get(name);
      if (value === null) {
        if (header.required) fail(`the required header ${name} is missing`);
        continue;
      }
      if (header.schema) {
        const errors = this.validate(`${key} header ${name}`, header.schema, headerValue(value, header.schema));
        if (errors) fail(`header ${name}: ${JSON.stringify(value)} does not match its schema: ${errors}`);
      }
    }

    // HEAD has no body; 204 and 304 never have one.
    if (method === "HEAD" || response.status === 204 || response.status === 304) return;
    const text = await response.clone().text();
    const content = spec!.content;
    if (!content) {
      if (text !== "") fail(`the document lists no body, the response has ${text.length} characters`);
      return;
    }
    const mediaType = (response.headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
    const media = content[mediaType];
    if (!media) fail(`media type "${mediaType}" is not documented; listed: ${Object.keys(content).join(", ")}`);
    if (!media!.schema || !/^application\/([\w.-]+\+)?json$/.test(mediaType)) return;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      fail(`the body is not JSON: ${text.slice(0, 200)}`);
    }
    const errors = this.validate(`${key} ${mediaType}`, media!.schema, body);
    if (errors) fail(`the body does not match the documented schema: ${errors}\nbody: ${text.slice(0, 500)}`);
  }

  private match(method: string, path: string, request: RequestLine): Match {
    if (UNDOCUMENTED.some((entry) => entry.matches(method, path, request))) return "undocumented";
    const operationMethod = method === "HEAD" ? "get" : method.toLowerCase();
    for (const { template, pattern } of this.templates) {
      if (!pattern.test(path)) continue;
      const spec = this.doc.paths[template]![operationMethod];
      // Another method on a documented path is no route (Hono answers 404), like an unknown path.
      return spec ? { template, spec } : { template: null, spec: NO_ROUTE };
    }
    return { template: null, spec: NO_ROUTE };
  }

  /** The schema errors of `value` (a short text), or null when it matches. */
  private validate(key: string, schema: Schema, value: unknown): string | null {
    let validator = this.validators.get(key);
    if (!validator) {
      // The document's components beside the schema, so its "#/components/schemas/…" refs resolve.
      validator = new Validator({ ...schema, components: this.doc.components } as Schema, "2020-12", false);
      this.validators.set(key, validator);
    }
    const result = validator.validate(value);
    return result.valid ? null : describe(result.errors);
  }
}

/** A header's text as its schema types it: an integer header is checked as a number. */
function headerValue(value: string, schema: Schema): unknown {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if ((type === "integer" || type === "number") && /^-?[0-9]+(\.[0-9]+)?$/.test(value)) return Number(value);
  return value;
}

/** The deepest errors first (they say what is wrong; their parents only that something below is). */
function describe(errors: OutputUnit[]): string {
  return [...errors]
    .sort((a, b) => b.instanceLocation.length - a.instanceLocation.length)
    .slice(0, 5)
    .map((error) => `${error.instanceLocation || "#"}: ${error.error}`)
    .join("; ");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
