/**
 * docs/api.md (the contract clients rely on) and GET /openapi.json (what the server documents) agree:
 * - every operation in the contract's endpoint tables (v1, and v1.1: carts, checkout, payments) is in the
 *   OpenAPI document, and every operation of the document is in those tables;
 * - each status the tables state for an operation is one of that operation's documented responses;
 * - each error code the contract names is one the server's source can send;
 * - every `METHOD /path` the contract's prose mentions is in one of its tables.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { api } from "../support/api";

const CONTRACT = Object.values(import.meta.glob<string>("../../docs/api.md", { query: "?raw", import: "default", eager: true }))[0]!;
// The server's source, to look error codes up in (string literals there: "code" in TypeScript, 'code' in SQL).
const SOURCE = Object.entries(import.meta.glob<string>("../../src/**/*.ts", { query: "?raw", import: "default", eager: true }))
  .filter(([path]) => !path.endsWith(".d.ts"))
  .map(([, text]) => text)
  .join("\n");

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

type EndpointRow = {
  /** "POST /api/v1/orders" */
  operation: string;
  /** Status → the error codes stated with it (none for a success or a bare status). */
  answers: Map<number, string[]>;
};

/** The rows of the endpoint tables in `markdown`: `| METHOD | `path` | token | 201; 409 `code` `code` |`. */
function endpointRows(markdown: string): EndpointRow[] {
  const rows: EndpointRow[] = [];
  for (const line of markdown.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    // A table row splits into ["", method, path, token, answers, ""].
    if (cells.length !== 6 || !(METHODS as readonly string[]).includes(cells[1]!)) continue;
    const path = /^`([^`]+)`$/.exec(cells[2]!)?.[1];
    if (!path) throw new Error(`endpoint row without a \`path\`: ${line}`);
    const answers = new Map<number, string[]>();
    for (const part of cells[4]!.split(";")) {
      const match = /^(\d{3})((?:\s+`[a-z_]+`)*)$/.exec(part.trim());
      if (!match) throw new Error(`unparseable answer "${part.trim()}" in: ${line}`);
      answers.set(
        Number(match[1]),
        [...match[2]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!),
      );
    }
    rows.push({ operation: `${cells[1]} ${path}`, answers });
  }
  return rows;
}

/** Every `METHOD /path` in backticks in `markdown`'s text, for the API's own paths (not the local Stripe stand-in's). */
function mentionedOperations(markdown: string): Set<string> {
  const found = new Set<string>();
  for (const match of markdown.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`\s?]*)/g)) {
    const path = match[2]!;
    if (/^\/(api\/|health|openapi\.json|docs)/.test(path)) found.add(`${match[1]} ${path}`);
  }
  return found;
}

const served = endpointRows(CONTRACT);

type OpenApiDocument = { paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> };
let documented: Map<string, Set<number>>;

beforeAll(async () => {
  const res = await api("/openapi.json");
  expect(res.status).toBe(200);
  const doc = (await res.json()) as OpenApiDocument;
  documented = new Map();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      documented.set(`${method.toUpperCase()} ${path}`, new Set(Object.keys(operation.responses ?? {}).map(Number)));
    }
  }
});

describe("docs/api.md", () => {
  it("has endpoint tables for v1 and for v1.1 (carts, checkout, payments), each operation once", () => {
    expect(served.length).toBeGreaterThanOrEqual(25);
    expect(new Set(served.map((row) => row.operation)).size).toBe(served.length);
  });

  it("lists every operation that its prose mentions", () => {
    const table = new Set(served.map((row) => row.operation));
    for (const operation of mentionedOperations(CONTRACT)) expect(table, operation).toContain(operation);
  });

  it("names only error codes the server's source can send", () => {
    const codes = new Set(served.flatMap((row) => [...row.answers.values()].flat()));
    for (const match of CONTRACT.matchAll(/`([a-z]+_[a-z_]+)`/g)) {
      if (/^(invalid|payload|validation|rate|email|insufficient|idempotency|service|cart|precondition|payment|amount)_/.test(match[1]!)) {
        codes.add(match[1]!);
      }
    }
    expect(codes.size).toBeGreaterThanOrEqual(16);
    const unknown = [...codes].filter((code) => !SOURCE.includes(`"${code}"`) && !SOURCE.includes(`'${code}'`));
    expect(unknown).toEqual([]);
  });
});

describe("docs/api.md against GET /openapi.json", () => {
  it("every endpoint of the contract is a documented operation", () => {
    const missing = served.map((row) => row.operation).filter((operation) => !documented.has(operation));
    expect(missing).toEqual([]);
  });

  it("every documented operation is an endpoint of the contract", () => {
    const listed = new Set(served.map((row) => row.operation));
    const unlisted = [...documented.keys()].filter((operation) => !listed.has(operation));
    expect(unlisted).toEqual([]);
  });

  it("every status the contract states for an operation is one of its documented responses", () => {
    const undocumented: string[] = [];
    for (const row of served) {
      for (const status of row.answers.keys()) {
        if (!documented.get(row.operation)?.has(status)) undocumented.push(`${row.operation} ${status}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});
