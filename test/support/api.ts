import { env, createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { app } from "../../src/app";
import { ConformanceChecker, type OpenApiDocument, type RequestLine } from "./openapi-conformance";

const ORIGIN = "http://tenpo.localhost";

/** A request through the real Worker entry (src/index.ts) with the test bindings. */
export async function api(path: string, init?: RequestInit): Promise<Response> {
  const request = new Request(ORIGIN + path, init);
  const line = { method: request.method, url: request.url, headers: new Headers(request.headers) };
  const res = await exports.default.fetch(request);
  await (await conformance()).check(line, res);
  return res;
}

/** A request through the app with some bindings replaced, e.g. to point at a dependency that is down. */
export async function apiWithEnv(overrides: Partial<Env>, path: string, init?: RequestInit): Promise<Response> {
  const request = new Request(ORIGIN + path, init);
  const line = { method: request.method, url: request.url, headers: new Headers(request.headers) };
  const ctx = createExecutionContext();
  const res = await app.fetch(request, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  await (await conformance()).check(line, res);
  return res;
}

/**
 * Fails (throws) unless `res` is a response the API's document describes for `request`: for tests
 * that must call the app themselves (e.g. to time it) and so cannot use `api` or `apiWithEnv`.
 */
export async function expectDocumented(request: RequestLine, res: Response): Promise<void> {
  await (await conformance()).check(request, res);
}

let checker: Promise<ConformanceChecker> | undefined;

/**
 * The check every response of `api` and `apiWithEnv` goes through (test/support/openapi-conformance.ts):
 * the response must be one the document served at /openapi.json describes. The document is fetched
 * once per test file, from the Worker with the test bindings.
 */
function conformance(): Promise<ConformanceChecker> {
  return (checker ??= (async () => {
    const res = await exports.default.fetch(new Request(`${ORIGIN}/openapi.json`));
    if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}`);
    return new ConformanceChecker((await res.json()) as OpenApiDocument);
  })());
}

/** The contract's error body. */
export type ErrorBody = { error: { code: string; message: string; details?: unknown } };
