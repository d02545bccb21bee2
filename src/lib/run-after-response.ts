import { waitUntil } from "cloudflare:workers";

/**
 * Lets `promise` finish after the response: handed to the `waitUntil` of `ctx` (a request's execution
 * context, read only now) when given, else of the current invocation (`cloudflare:workers`). Outside
 * an invocation (app.request in a unit test, module scope) there is nothing to keep alive: the
 * promise runs on its own, and its rejection is nobody's (not an unhandled one).
 */
export function runAfterResponse(promise: Promise<unknown>, ctx?: () => Pick<ExecutionContext, "waitUntil">): void {
  try {
    if (ctx) ctx().waitUntil(promise);
    else waitUntil(promise);
  } catch {
    promise.catch(() => {});
  }
}
