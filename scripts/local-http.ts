/**
 * What the local Node servers in scripts/ (SQL-over-HTTP, Upstash REST, mail sink, metrics sink) share:
 * an error type that carries its HTTP status, refusing callers that are not this machine's programs,
 * secrets made per run, bounded request bodies, JSON answers, and running as a command that stops
 * cleanly on Ctrl-C.
 *
 * They listen on loopback, but a web page in the developer's browser can still reach loopback: its
 * fetch and form posts carry the page's `Origin`, and a DNS-rebinding page reaches 127.0.0.1 under its
 * own name, which arrives as the `Host` header. So every request must name this machine in `Host`, and
 * an `Origin`, when there is one, must be this machine's too (`refuseForeignRequest`).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pathToFileURL } from "node:url";
import { isLoopbackHostname } from "../src/lib/loopback";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** A `Host` header: a name or an IPv4 address, or an IPv6 address in brackets, then an optional port. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i;
/** 24 random bytes (192 bits): a per-run secret nobody guesses, short enough for a header or a command line. */
const SECRET_BYTES = 24;

/**
 * Throws 403 unless the request comes from a program on this machine: `Host` must be a loopback name
 * (`127.0.0.1`, `localhost`, `[::1]`, with any port) and `Origin`, if present, a loopback origin.
 * Programs (the Worker, tests, curl) send no `Origin`; browsers send one with every cross-site fetch
 * and form post.
 */
export function refuseForeignRequest(req: IncomingMessage): void {
  const host = req.headers.host;
  const match = host === undefined ? null : HOST_HEADER.exec(host);
  if (!match || !isLoopbackHostname(match[1]!)) {
    throw new HttpError(403, `Host ${JSON.stringify(host ?? "")} is not this machine: this server answers loopback names only`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !isLoopbackOrigin(origin)) {
    throw new HttpError(403, `Origin ${JSON.stringify(origin)} is not this machine: web pages may not call this server`);
  }
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") && isLoopbackHostname(url.hostname);
  } catch {
    return false; // "null" (a sandboxed page, a file) and anything else that is not an origin
  }
}

/** A new random secret for one run of a local server: a token or a shared header value. */
export function newLocalSecret(): string {
  return randomBytes(SECRET_BYTES).toString("base64url");
}

/** Whether the request carries `Authorization: Bearer <secret>`, compared in constant time. */
export function hasBearer(req: IncomingMessage, secret: string): boolean {
  const sent = Buffer.from(req.headers.authorization ?? "");
  const expected = Buffer.from(`Bearer ${secret}`);
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}

/** The whole request body, refused with 413 past `maxBytes` instead of buffering without end. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, `request body exceeds ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** True when the module at `moduleUrl` is the script node was started with (`tsx scripts/x.ts`). */
export function isMainModule(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/** The value after `--name` on a command line, if any. */
export function cliOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Runs `close` once on SIGINT or SIGTERM, then exits (1 if closing failed). */
export function stopOnSignals(close: () => Promise<unknown>): void {
  const stop = (): void => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
