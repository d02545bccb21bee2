import { env, createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { app } from "../../src/app";

const ORIGIN = "http://tenpo.localhost";

/** A request through the real Worker entry (src/index.ts) with the test bindings. */
export function api(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(ORIGIN + path, init));
}

/** A request through the app with some bindings replaced, e.g. to point at a dependency that is down. */
export async function apiWithEnv(overrides: Partial<Env>, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(ORIGIN + path, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The contract's error body. */
export type ErrorBody = { error: { code: string; message: string; details?: unknown } };
