/**
 * A local stand-in for Stripe, speaking the part of Stripe's REST API the Worker uses through the
 * official `stripe` SDK (src/lib/stripe.ts), as Stripe answers it, in test mode and in memory. Nothing
 * leaves the machine except the webhook deliveries to `webhookUrl`.
 *
 * The protocol, as Stripe's (https://docs.stripe.com/api):
 *   - bodies (and GET query strings) are `application/x-www-form-urlencoded` with bracket notation
 *     (`metadata[order_id]=12`, `expand[0]=latest_charge`); unknown parameters are refused;
 *   - `Authorization: Bearer <apiKey>` (or Basic with the key as user name, as `curl -u sk_test_…:`),
 *     else 401; every answer carries `Request-Id: req_…`; every error is Stripe's
 *     `{"error": {type, code?, message, param?, decline_code?, payment_intent?, …}}` with Stripe's status;
 *   - `Idempotency-Key` on a POST: a repeat with the same parameters answers the first answer again
 *     (status and body, `Idempotent-Replayed: true`, `Original-Request`), with other parameters or
 *     another endpoint 400 idempotency_error; keys kept 24 h (scripts/stripe-standin/idempotency.ts).
 *     A request is handled synchronously once its body is read, so racing repeats of one key cannot
 *     both run, and racing requests on one PaymentIntent never interleave.
 *
 * Endpoints (scripts/stripe-standin/account.ts):
 *   POST /v1/payment_intents                 amount, currency, metadata, description, automatic_payment_methods,
 *                                            payment_method_types[card], payment_method, confirm, return_url
 *   GET  /v1/payment_intents/:id             (client_secret)
 *   POST /v1/payment_intents/:id/confirm     payment_method: pm_card_visa → succeeded; pm_card_chargeDeclined
 *                                            (or pm_card_visa_chargeDeclinedInsufficientFunds) → 402 card_error and
 *                                            back to requires_payment_method; succeeded or canceled → 400
 *   POST /v1/payment_intents/:id/cancel      (cancellation_reason) → canceled; succeeded → 400
 *   POST /v1/refunds                         payment_intent (or charge), amount (default: what is left), reason, metadata
 *   GET  /v1/refunds[?payment_intent=…]      a Stripe list, newest first (charge, limit, starting_after)
 *   GET  /v1/refunds/:id, GET /v1/charges/:id
 *   `expand[]`: latest_charge and payment_method on a PaymentIntent; charge and payment_intent on a refund.
 *
 * Events (scripts/stripe-standin/events.ts): payment_intent.created, .succeeded, .payment_failed,
 * .canceled and charge.refunded, signed with `webhookSecret` the Stripe way and, with `webhookUrl`, POSTed
 * there and re-sent after every failure (`retryDelaysMs`), in no particular order.
 *
 * Test hooks (not Stripe's API; no key needed; scope by your own ids, the stand-in is shared by parallel
 * test files):
 *   GET    /__payment_intents?order_id=<metadata.order_id>  → {payment_intents: [PaymentIntent, ...]} oldest first
 *   GET    /__events?payment_intent=pi_…[&type=…]           → {events: [{id, type, payload, signature, deliveries}]}
 *            payload: the exact body text; signature: a Stripe-Signature for it made now (tests inside workerd
 *            cannot be reached, so they POST the event to the Worker themselves); deliveries: [{at, status|error}]
 *   POST   /__faults {status?, delayMs?, path?, payment_intent?, times?}  (scripts/stripe-standin/faults.ts)
 *   GET    /__faults, DELETE /__faults[?path=<prefix>][&payment_intent=pi_…]  (those of that scope; all without either)
 *
 * Only programs and pages of this machine may call: a `Host` that is not a loopback name or a foreign
 * `Origin` is refused with 403 (scripts/local-http.ts).
 *
 * Run alone: npx tsx scripts/stripe-standin.ts [--port 12111] [--host 127.0.0.1] [--api-key sk_test_tenpo_local]
 *            [--webhook-secret whsec_tenpo_local] [--webhook-url http://127.0.0.1:8787/api/v1/webhooks/stripe] [--verbose]
 */
import { timingSafeEqual } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import Stripe from "stripe";
import { HttpError, isMainModule, readBody, refuseForeignRequest, stopOnSignals } from "./local-http";
import { Account } from "./stripe-standin/account";
import { invalidRequest, StripeFailure } from "./stripe-standin/errors";
import { EventLog } from "./stripe-standin/events";
import { Faults } from "./stripe-standin/faults";
import { canonicalParams, type FormParams, parseForm } from "./stripe-standin/form";
import { IdempotencyKeys } from "./stripe-standin/idempotency";
import { newId } from "./stripe-standin/objects";

/** npm start's port for the stand-in (wrangler.toml's STRIPE_API_BASE). */
export const DEFAULT_STRIPE_PORT = 12111;
/** The local API key and endpoint secret .dev.vars.example publishes (docs/api.md, "Locally"). */
export const DEFAULT_STRIPE_SECRET_KEY = "sk_test_tenpo_local";
export const DEFAULT_STRIPE_WEBHOOK_SECRET = "whsec_tenpo_local";

export interface StripeStandInOptions {
  host?: string;
  /** 0 = ephemeral. */
  port?: number;
  /** The secret key requests must carry. */
  apiKey: string;
  /** The endpoint secret events are signed with. */
  webhookSecret: string;
  /** Where events are POSTed; without it they are only kept (GET /__events). */
  webhookUrl?: string;
  /** The waits before each re-delivery of an event that failed (default: 1 s, 5 s, 30 s, 2 min; then it gives up). */
  retryDelaysMs?: number[];
  log?: (line: string) => void;
}

export interface StripeStandIn {
  /** The base URL, e.g. http://127.0.0.1:12111: the Worker's STRIPE_API_BASE. */
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const SPOKEN =
  "POST /v1/payment_intents, GET /v1/payment_intents/:id, POST /v1/payment_intents/:id/confirm, POST /v1/payment_intents/:id/cancel, POST /v1/refunds, GET /v1/refunds, GET /v1/refunds/:id, GET /v1/charges/:id";

/** An answer decided for one API request. */
interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

interface Route {
  method: "GET" | "POST";
  path: RegExp;
  run: (params: FormParams, id: string) => unknown;
}

/** Starts the stand-in on `host:port` (127.0.0.1, ephemeral by default). */
export async function startStripeStandIn(opts: StripeStandInOptions): Promise<StripeStandIn> {
  const log = opts.log ?? (() => {});
  const keys = new IdempotencyKeys();
  const faults = new Faults();
  const events = new EventLog({
    webhookSecret: opts.webhookSecret,
    webhookUrl: opts.webhookUrl,
    retryDelaysMs: opts.retryDelaysMs,
    apiVersion: Stripe.API_VERSION,
    log,
  });
  /** The API request being handled: what its events name as their `request`. */
  let handling = { id: "", idempotency_key: null as string | null };
  const account = new Account((type, object, paymentIntentId) => {
    events.record(type, object, paymentIntentId, { ...handling });
  });
  const routes: Route[] = [
    { method: "POST", path: /^\/v1\/payment_intents$/, run: (p) => account.createPaymentIntent(p) },
    { method: "GET", path: /^\/v1\/payment_intents\/([^/]+)$/, run: (p, id) => account.retrievePaymentIntent(id, p) },
    { method: "POST", path: /^\/v1\/payment_intents\/([^/]+)\/confirm$/, run: (p, id) => account.confirmPaymentIntent(id, p) },
    { method: "POST", path: /^\/v1\/payment_intents\/([^/]+)\/cancel$/, run: (p, id) => account.cancelPaymentIntent(id, p) },
    { method: "POST", path: /^\/v1\/refunds$/, run: (p) => account.createRefund(p) },
    { method: "GET", path: /^\/v1\/refunds$/, run: (p) => account.listRefunds(p) },
    { method: "GET", path: /^\/v1\/refunds\/([^/]+)$/, run: (p, id) => account.retrieveRefund(id, p) },
    { method: "GET", path: /^\/v1\/charges\/([^/]+)$/, run: (p, id) => account.retrieveCharge(id, p) },
  ];

  /** One API request, from authentication to its answer: synchronous, so nothing interleaves with it. */
  function api(req: IncomingMessage, method: string, path: string, raw: string, requestId: string): Answer {
    const headers: Record<string, string> = { "Stripe-Version": header(req, "stripe-version") ?? Stripe.API_VERSION };
    const key = method === "POST" ? header(req, "idempotency-key") : undefined;
    if (key !== undefined) headers["Idempotency-Key"] = key;
    const endpoint = `${method} ${path}`;
    let params = "";
    try {
      authenticate(req, opts.apiKey);
      const route = routes.find((r) => r.method === method && r.path.test(path));
      if (!route) {
        throw invalidRequest(
          `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/. ` +
            `(The Tenpo Stripe stand-in speaks ${SPOKEN}.)`,
          { status: 404 },
        );
      }
      const contentType = header(req, "content-type") ?? "";
      if (method === "POST" && raw !== "" && !contentType.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
        throw invalidRequest(
          `Stripe's API takes form-encoded parameters (Content-Type: application/x-www-form-urlencoded, e.g. amount=1000&metadata[order_id]=12), not ${contentType || "a body without a Content-Type"}.`,
        );
      }
      const form = parseForm(raw);
      params = canonicalParams(form);
      if (key !== undefined) {
        const earlier = keys.replay(opts.apiKey, key, endpoint, params);
        if (earlier) {
          log(`${endpoint} → ${earlier.status} (replayed for Idempotency-Key ${key})`);
          return {
            status: earlier.status,
            body: earlier.body,
            headers: { ...headers, "Idempotent-Replayed": "true", "Original-Request": earlier.requestId },
          };
        }
      }
      const id = pathId(route.path.exec(path)![1]);
      handling = { id: requestId, idempotency_key: key ?? null };
      const body = JSON.stringify(route.run(form, id));
      if (key !== undefined) keys.save(opts.apiKey, key, endpoint, params, { status: 200, body, requestId });
      log(`${endpoint} → 200`);
      return { status: 200, body, headers };
    } catch (err) {
      if (!(err instanceof StripeFailure)) throw err;
      const body = JSON.stringify({ error: err.body });
      if (key !== undefined && err.saved) keys.save(opts.apiKey, key, endpoint, params, { status: err.status, body, requestId });
      log(`${endpoint} → ${err.status} ${err.body.code ?? err.body.type}`);
      return { status: err.status, body, headers };
    } finally {
      handling = { id: "", idempotency_key: null };
    }
  }

  async function hooks(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    const path = url.pathname;
    const allow = (methods: string[]): true => {
      if (methods.includes(method)) return true;
      res.setHeader("Allow", methods.join(", "));
      throw new HttpError(405, `Method ${method} not allowed on ${path}`);
    };
    const query = (name: string) => url.searchParams.get(name) ?? undefined;
    if (path === "/__payment_intents" && allow(["GET"])) {
      return sendJson(res, 200, { payment_intents: account.paymentIntents(query("order_id")) });
    }
    if (path === "/__events" && allow(["GET"])) {
      const found = events.list({ paymentIntentId: query("payment_intent"), type: query("type") });
      return sendJson(res, 200, {
        events: found.map((e) => ({
          id: e.id,
          type: e.type,
          payload: e.payload,
          signature: events.sign(e.payload),
          deliveries: e.deliveries,
        })),
      });
    }
    if (path === "/__faults" && allow(["GET", "POST", "DELETE"])) {
      if (method === "POST") faults.add((await readBody(req, MAX_BODY_BYTES)).toString("utf8"));
      if (method === "DELETE") faults.clear({ path: query("path"), paymentIntent: query("payment_intent") });
      return sendJson(res, 200, { faults: faults.list() });
    }
    throw new HttpError(404, `No test hook ${path}: /__payment_intents, /__events, /__faults`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    refuseForeignRequest(req);
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    if (url.pathname.startsWith("/__")) return hooks(req, res, url, method);
    const raw = method === "POST" ? (await readBody(req, MAX_BODY_BYTES)).toString("utf8") : url.search.slice(1);
    // From here the answer is decided without awaiting anything (a fault's delay comes before or after).
    const fault = faults.take(url.pathname, raw);
    if (fault?.status !== undefined) {
      if (fault.delayMs) await sleep(fault.delayMs, undefined, { ref: false });
      log(`${method} ${url.pathname} → ${fault.status} (injected fault)`);
      const error = {
        type: "api_error",
        message: `An unknown error occurred (a fault injected into the Tenpo Stripe stand-in: HTTP ${fault.status}).`,
      };
      return send(res, { status: fault.status, body: JSON.stringify({ error }), headers: {} });
    }
    const answer = api(req, method, url.pathname, raw, requestId);
    if (fault?.delayMs) await sleep(fault.delayMs, undefined, { ref: false });
    send(res, answer);
  }

  const server = http.createServer((req, res) => {
    const requestId = newId("req", 14);
    res.setHeader("Request-Id", requestId);
    handle(req, res, requestId).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!(err instanceof HttpError)) log(`error: ${err instanceof Error ? (err.stack ?? message) : message}`);
      sendJson(res, status, { error: { type: status >= 500 ? "api_error" : "invalid_request_error", message } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(":") ? `[${address}]` : address}:${port}`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets from workerd's fetch would otherwise hold close() open.
      server.closeAllConnections();
      await Promise.all([closed, events.close()]);
    },
  };
}

/** Throws Stripe's 401 unless the request carries the API key (Bearer, or Basic with the key as user name). */
function authenticate(req: IncomingMessage, apiKey: string): void {
  const authorization = req.headers.authorization;
  if (!authorization) {
    throw invalidRequest(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth " +
        "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, " +
        "or we can help at https://support.stripe.com/.",
      { status: 401 },
    );
  }
  const [scheme = "", credentials = ""] = authorization.trim().split(/\s+/, 2);
  const presented = /^basic$/i.test(scheme)
    ? Buffer.from(credentials, "base64").toString("utf8").split(":")[0]!
    : /^bearer$/i.test(scheme)
      ? credentials
      : "";
  const sent = Buffer.from(presented);
  const expected = Buffer.from(apiKey);
  if (sent.length !== expected.length || !timingSafeEqual(sent, expected)) {
    throw invalidRequest(`Invalid API Key provided: ${redact(presented)}`, { status: 401 });
  }
}

/** A key as Stripe's 401 shows it: the first 8 and the last 4 characters, stars between. */
function redact(key: string): string {
  if (key.length <= 12) return "*".repeat(key.length);
  return `${key.slice(0, 8)}${"*".repeat(key.length - 12)}${key.slice(-4)}`;
}

/** The id in a request path, decoded (a malformed escape is Stripe's 400, not a crash). */
function pathId(segment: string | undefined): string {
  try {
    return decodeURIComponent(segment ?? "");
  } catch {
    throw invalidRequest(`Invalid id in the request URL: ${segment}`);
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function send(res: ServerResponse, answer: Answer): void {
  if (res.headersSent) return;
  res.writeHead(answer.status, {
    ...answer.headers,
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(answer.body),
  });
  res.end(answer.body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, { status, body: JSON.stringify(body), headers: {} });
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: String(DEFAULT_STRIPE_PORT) },
      host: { type: "string", default: "127.0.0.1" },
      "api-key": { type: "string", default: DEFAULT_STRIPE_SECRET_KEY },
      "webhook-secret": { type: "string", default: DEFAULT_STRIPE_WEBHOOK_SECRET },
      "webhook-url": { type: "string" },
      verbose: { type: "boolean", default: false },
    },
  });
  const standIn = await startStripeStandIn({
    port: Number(values.port),
    host: values.host,
    apiKey: values["api-key"],
    webhookSecret: values["webhook-secret"],
    webhookUrl: values["webhook-url"],
    log: values.verbose ? (line) => console.log(line) : undefined,
  });
  const webhooks = values["webhook-url"]
    ? `events to ${values["webhook-url"]}`
    : `events kept at ${standIn.url}/__events (no --webhook-url)`;
  console.log(`Stripe stand-in on ${standIn.url} (key ${values["api-key"]}); ${webhooks}`);
  stopOnSignals(() => standIn.close());
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
