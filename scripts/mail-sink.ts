/**
 * A local stand-in for the HTTP e-mail API the Worker sends order e-mails through (Resend's shape),
 * which keeps what it receives so that tests and developers can read it. Nothing leaves the machine.
 *
 * The API, as src/queue/email-api.ts speaks it:
 *   POST /emails   Authorization: Bearer <apiKey>   Idempotency-Key: <key> (optional)
 *                  {"from", "to" (address or list), "subject", "text", "html"?}
 *     → 200 {"id": "<uuid>"}
 *     A repeat of an Idempotency-Key with the same body answers the first id again and stores nothing
 *     (the repeat is counted in the e-mail's `requests`); with another body → 409. 400 for a bad body,
 *     401 for a wrong key.
 *
 * Only programs and pages of this machine may call: a `Host` that is not a loopback name (DNS rebinding)
 * or a foreign `Origin` (another site's page) is refused with 403 (scripts/local-http.ts).
 *
 * Reading (no key needed; the server listens on loopback only):
 *   GET /                       an HTML inbox, newest first
 *   GET /emails[?to=<address>]  → {"emails": [Email, ...]} oldest first; `to` matches any recipient, case-insensitively
 *   GET /emails/<id>            → Email, or 404
 *   DELETE /emails              → forget everything
 *   Email = {id, from, to: [..], subject, text, html, idempotency_key, received_at, requests}
 *
 * Test hooks (tests run in parallel against one sink, so scope faults to your own recipient):
 *   POST /__faults {failStatus, to?, times?}  the next `times` (default: every) sends to `to` (default: any)
 *                                             answer failStatus without storing anything
 *   DELETE /__faults[?to=<address>]           clear faults (those for `to` only, if given)
 *
 * Run alone: npx tsx scripts/mail-sink.ts [--port 8025] [--host 127.0.0.1] [--api-key KEY] [--verbose]
 */
import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { HttpError, isMainModule, readBody, refuseForeignRequest, sendJson, stopOnSignals } from "./local-http";

export interface MailSinkOptions {
  host?: string;
  /** 0 = ephemeral. */
  port?: number;
  /** The bearer key POST /emails must carry. */
  apiKey: string;
  /** The oldest e-mails are forgotten beyond this many (default 10,000). */
  maxEmails?: number;
  log?: (line: string) => void;
}

export interface SinkEmail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string | null;
  idempotency_key: string | null;
  received_at: string;
  /** How many POSTs carried this e-mail: 1, plus one per repeat of its Idempotency-Key. */
  requests: number;
}

export interface MailSink {
  /** The base URL, e.g. http://127.0.0.1:8025 (the inbox page). */
  url: string;
  /** Where to send: `${url}/emails` (EMAIL_API_URL). */
  sendUrl: string;
  port: number;
  /** Everything received, oldest first. */
  emails(): SinkEmail[];
  close(): Promise<void>;
}

interface Fault {
  failStatus: number;
  to?: string;
  remaining?: number;
}

const MAX_BODY_BYTES = 1024 * 1024;
const EMAILS_PATH = "/emails";

export async function startMailSink(opts: MailSinkOptions): Promise<MailSink> {
  const log = opts.log ?? (() => {});
  const maxEmails = opts.maxEmails ?? 10_000;
  const emails: SinkEmail[] = [];
  // Idempotency-Key → the e-mail it created and the body it came with.
  const byKey = new Map<string, { email: SinkEmail; body: string }>();
  let faults: Fault[] = [];

  function receive(req: IncomingMessage, raw: string): { status: number; body: unknown } {
    if (req.headers.authorization !== `Bearer ${opts.apiKey}`) throw new HttpError(401, "missing or wrong API key");
    const message = parseEmail(raw);
    const key = header(req, "idempotency-key");
    // Everything below runs without awaiting, so racing repeats of one key cannot both store.
    if (key !== undefined) {
      const earlier = byKey.get(key);
      if (earlier) {
        if (earlier.body !== canonical(message)) {
          throw new HttpError(409, "this Idempotency-Key was used with a different request body");
        }
        earlier.email.requests += 1;
        log(`repeat of ${key}: not stored again`);
        return { status: 200, body: { id: earlier.email.id } };
      }
    }
    const fault = faults.find((f) => f.to === undefined || message.to.some((to) => sameAddress(to, f.to!)));
    if (fault) {
      if (fault.remaining !== undefined && --fault.remaining <= 0) faults = faults.filter((f) => f !== fault);
      throw new HttpError(fault.failStatus, `injected fault (HTTP ${fault.failStatus})`);
    }
    const email: SinkEmail = {
      id: randomUUID(),
      ...message,
      idempotency_key: key ?? null,
      received_at: new Date().toISOString(),
      requests: 1,
    };
    emails.push(email);
    if (key !== undefined) byKey.set(key, { email, body: canonical(message) });
    while (emails.length > maxEmails) {
      const dropped = emails.shift()!;
      if (dropped.idempotency_key !== null) byKey.delete(dropped.idempotency_key);
    }
    log(`stored ${email.id} to ${email.to.join(", ")}: ${email.subject}`);
    return { status: 200, body: { id: email.id } };
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    refuseForeignRequest(req);
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const allow = (methods: string[]): true => {
      if (methods.includes(method)) return true;
      res.setHeader("Allow", methods.join(", "));
      throw new HttpError(405, `Method ${method} not allowed on ${path}`);
    };

    if (path === "/" && allow(["GET"])) return sendHtml(res, inboxPage(emails));
    if (path === EMAILS_PATH && allow(["GET", "POST", "DELETE"])) {
      if (method === "POST") {
        const { status, body } = receive(req, (await readBody(req, MAX_BODY_BYTES)).toString("utf8"));
        return sendJson(res, status, body);
      }
      if (method === "DELETE") {
        emails.length = 0;
        byKey.clear();
        return sendJson(res, 200, { emails: [] });
      }
      const to = url.searchParams.get("to");
      return sendJson(res, 200, { emails: to === null ? emails : emails.filter((e) => e.to.some((t) => sameAddress(t, to))) });
    }
    if (path.startsWith(`${EMAILS_PATH}/`) && allow(["GET"])) {
      const id = decodeURIComponent(path.slice(EMAILS_PATH.length + 1));
      const email = emails.find((e) => e.id === id);
      if (!email) throw new HttpError(404, `no e-mail ${id}`);
      return sendJson(res, 200, email);
    }
    if (path === "/__faults" && allow(["POST", "DELETE"])) {
      if (method === "DELETE") {
        const to = url.searchParams.get("to");
        faults = to === null ? [] : faults.filter((f) => f.to === undefined || !sameAddress(f.to, to));
      } else {
        faults.push(parseFault((await readBody(req, MAX_BODY_BYTES)).toString("utf8")));
      }
      return sendJson(res, 200, { faults });
    }
    throw new HttpError(404, `No route for ${path}`);
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status >= 500 && !(err instanceof HttpError)) log(`error: ${message}`);
      sendJson(res, status, { error: message });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
  return {
    url,
    sendUrl: `${url}${EMAILS_PATH}`,
    port,
    emails: () => structuredClone(emails),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets from workerd's fetch would otherwise hold close() open.
      server.closeAllConnections();
      await closed;
    },
  };
}

type EmailMessage = Pick<SinkEmail, "from" | "to" | "subject" | "text" | "html">;

function parseEmail(raw: string): EmailMessage {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "body must be a JSON object");
  const { from, to, subject, text, html } = body as Record<string, unknown>;
  const recipients = typeof to === "string" ? [to] : to;
  if (
    !Array.isArray(recipients) ||
    recipients.length === 0 ||
    !recipients.every((r) => typeof r === "string" && /^[^@\s]+@[^@\s]+$/.test(r))
  ) {
    throw new HttpError(400, '"to" must be an e-mail address or a non-empty list of them');
  }
  for (const [name, value] of Object.entries({ from, subject, text })) {
    if (typeof value !== "string" || value === "") throw new HttpError(400, `"${name}" must be a non-empty string`);
  }
  if (html !== undefined && typeof html !== "string") throw new HttpError(400, '"html" must be a string');
  return {
    from: from as string,
    to: recipients as string[],
    subject: subject as string,
    text: text as string,
    html: (html as string | undefined) ?? null,
  };
}

function parseFault(raw: string): Fault {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
  const { failStatus, to, times } = (body ?? {}) as Record<string, unknown>;
  if (!Number.isInteger(failStatus) || (failStatus as number) < 400 || (failStatus as number) > 599) {
    throw new HttpError(400, '"failStatus" must be an HTTP status from 400 to 599');
  }
  if (to !== undefined && typeof to !== "string") throw new HttpError(400, '"to" must be a string');
  if (times !== undefined && (!Number.isInteger(times) || (times as number) < 1))
    throw new HttpError(400, '"times" must be a positive integer');
  return { failStatus: failStatus as number, to: to as string | undefined, remaining: times as number | undefined };
}

/** The fields that make two sends "the same request", in a fixed order. */
function canonical(message: EmailMessage): string {
  return JSON.stringify([message.from, message.to, message.subject, message.text, message.html]);
}

const sameAddress = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(html);
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function inboxPage(emails: readonly SinkEmail[]): string {
  const items = [...emails]
    .reverse()
    .map(
      (e) => `<article>
  <h2>${escapeHtml(e.subject)}</h2>
  <p><small>${escapeHtml(e.received_at)} · from ${escapeHtml(e.from)} · to ${escapeHtml(e.to.join(", "))} ·
  <a href="${EMAILS_PATH}/${encodeURIComponent(e.id)}">JSON</a></small></p>
  <pre>${escapeHtml(e.text)}</pre>
</article>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tenpo mail sink (${emails.length})</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}article{border-top:1px solid #ccc}pre{white-space:pre-wrap}</style>
</head><body><h1>Tenpo mail sink</h1><p>${emails.length} e-mail(s), newest first. JSON: <a href="${EMAILS_PATH}">${EMAILS_PATH}</a>, <code>${EMAILS_PATH}?to=address</code>.</p>
${items || "<p>Nothing yet: place an order.</p>"}
</body></html>`;
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8025" },
      host: { type: "string", default: "127.0.0.1" },
      "api-key": { type: "string", default: "tenpo-local-mail-key" },
      verbose: { type: "boolean", default: false },
    },
  });
  const sink = await startMailSink({
    port: Number(values.port),
    host: values.host,
    apiKey: values["api-key"],
    log: values.verbose ? (line) => console.log(line) : undefined,
  });
  console.log(`mail sink: send to ${sink.sendUrl}; read at ${sink.url}/ (or ${sink.sendUrl}?to=...)`);
  stopOnSignals(() => sink.close());
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
