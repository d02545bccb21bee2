/**
 * The load tools' HTTP client: undici's `Pool` towards one origin, every request timed from sending it
 * to having received the whole body and recorded (status, latency, X-Cache, the Worker's Server-Timing
 * database count) in the run's Recorder under the step's endpoint name.
 *
 * Like Locust's HttpUser (python-requests), requests to the API carry `Accept-Encoding: gzip, deflate`
 * and a virtual user has at most one request in flight per pool: the pool has one connection per user.
 */
import type { IncomingHttpHeaders } from "node:http";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { Pool } from "undici";
import type { RecordDetails, Recorder } from "./recorder";
import { serverTimingDbCount } from "./server-timing";

const REQUEST_TIMEOUT_MS = 30_000;

/** One request of a virtual user. */
export interface ClientRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path and query, appended to the base URL's path. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Decode the body into `Reply.text` (default: received in full, that is the latency, and dropped). */
  read?: boolean;
  /** What else to record about this response (e.g. an expected 409), decided from the decoded reply. */
  details?: (reply: Reply) => Omit<RecordDetails, "dbRoundTrips">;
}

/** A response, its body received in full. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** The decoded body when the request asked for it (`read`), else "". */
  text: string;
  ms: number;
  /** `Server-Timing: db;desc="N queries"`, or null when the response had none. */
  dbRoundTrips: number | null;
}

/** Requests towards one origin, recorded in `recorder`. */
export class RecordingClient {
  private readonly pool: Pool;
  private readonly prefix: string;

  /**
   * `baseUrl`: e.g. http://127.0.0.1:8787 or https://tenpo.example.workers.dev/some/prefix.
   * `stopped`: aborted when the run ends, after which a request torn down with the pool is not an error.
   */
  constructor(
    baseUrl: string,
    connections: number,
    private readonly recorder: Recorder,
    private readonly stopped: AbortSignal,
  ) {
    const base = new URL(baseUrl);
    this.prefix = base.pathname.replace(/\/+$/, "");
    this.pool = new Pool(base.origin, {
      connections: Math.max(1, connections),
      pipelining: 1,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
      connectTimeout: 10_000,
    });
  }

  /**
   * Sends one request and records it under `endpoint` (null: not recorded, the caller records a step made
   * of several requests itself). Null when no response arrived (the failure is recorded by its code).
   */
  async request(endpoint: string | null, req: ClientRequest): Promise<Reply | null> {
    const begin = performance.now();
    try {
      const res = await this.pool.request({ method: req.method, path: this.prefix + req.path, headers: req.headers, body: req.body });
      const raw = Buffer.from(await res.body.arrayBuffer());
      const ms = performance.now() - begin;
      const reply: Reply = {
        status: res.statusCode,
        headers: res.headers,
        text: req.read ? decode(raw, res.headers["content-encoding"]) : "",
        ms,
        // Several Server-Timing fields are one list, as if joined by commas.
        dbRoundTrips: serverTimingDbCount(joined(res.headers["server-timing"])),
      };
      if (endpoint !== null) {
        const details = { ...req.details?.(reply), dbRoundTrips: reply.dbRoundTrips };
        this.recorder.record(endpoint, res.statusCode, ms, first(res.headers["x-cache"]), details);
      }
      return reply;
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).name ?? "ERROR";
      // A request cut off by the end of the run is not the server's failure.
      if (endpoint !== null && !(this.stopped.aborted && code === "UND_ERR_DESTROYED")) {
        this.recorder.record(endpoint, code, performance.now() - begin);
      }
      return null;
    }
  }

  /** Tears down every connection now: in-flight requests fail (UND_ERR_DESTROYED). */
  async destroy(): Promise<void> {
    await this.pool.destroy().catch(() => {});
  }

  /** Closes the pool once its requests are done. */
  async close(): Promise<void> {
    await this.pool.close().catch(() => {});
  }
}

/** The API's headers: JSON, compressed like python-requests asks, and the user's token once it has one. */
export function apiHeaders(token: string | undefined, json: boolean): Record<string, string> {
  const headers: Record<string, string> = { accept: "application/json", "accept-encoding": "gzip, deflate" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (json) headers["content-type"] = "application/json";
  return headers;
}

/** The API's error code of a reply read as text (`{"error": {"code": …}}`), or undefined. */
export function errorCode(reply: Pick<Reply, "text">): string | undefined {
  try {
    const code = (JSON.parse(reply.text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

function decode(body: Buffer, encoding: string | string[] | undefined): string {
  const enc = (Array.isArray(encoding) ? encoding[0] : encoding)?.trim().toLowerCase();
  try {
    if (enc === "gzip") return gunzipSync(body).toString("utf8");
    if (enc === "deflate") return inflateSync(body).toString("utf8");
    if (enc === "br") return brotliDecompressSync(body).toString("utf8");
  } catch {
    return "";
  }
  return body.toString("utf8");
}
