/**
 * Local collector for the Worker's metrics data points. Under wrangler dev Analytics Engine is a stub
 * that drops every point, so when METRICS_SINK_URL is set the Worker also POSTs each request's data
 * point (the same `{indexes, blobs, doubles}` it writes to Analytics Engine, plus a `timestamp` in ms)
 * here, and this server appends them as JSON lines to a file (`.tenpo/metrics.jsonl` under npm start),
 * which `npm run metrics` (scripts/metrics-report.ts) summarises.
 *
 *   POST /points           ← one record or an array of records → 204; 400 when one is malformed (none stored)
 *   GET  /points?since=ms&limit=n → the stored records (newest last), read back from the file
 *   GET  /health           → {"status":"ok","file":…}
 *
 * Only programs of this machine may call: a `Host` that is not a loopback name or a foreign `Origin`
 * gets 403 (scripts/local-http.ts).
 *
 * Run directly: `npx tsx scripts/metrics-sink.ts [--port 8026] [--file .tenpo/metrics.jsonl]`.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isSinkRecord, type SinkRecord } from "../src/observability/data-point";
import { cliOption, HttpError, isMainModule, readBody, refuseForeignRequest, sendJson, stopOnSignals } from "./local-http";

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DEFAULT_METRICS_FILE = resolve(ROOT, ".tenpo/metrics.jsonl");
export const DEFAULT_METRICS_SINK_PORT = 8026;

export interface MetricsSinkOptions {
  host?: string;
  /** 0 = ephemeral. */
  port?: number;
  /** The JSON-lines file points are appended to (created with its directory). */
  file?: string;
}

export interface MetricsSink {
  /** The POST endpoint, e.g. http://127.0.0.1:8026/points: the Worker's METRICS_SINK_URL. */
  url: string;
  port: number;
  file: string;
  /** How many points were stored since start. */
  stored(): number;
  close(): Promise<void>;
}

export async function startMetricsSink(opts: MetricsSinkOptions = {}): Promise<MetricsSink> {
  const host = opts.host ?? "127.0.0.1";
  const file = resolve(opts.file ?? DEFAULT_METRICS_FILE);
  await mkdir(dirname(file), { recursive: true });
  let stored = 0;
  // Appends one after another, so lines of concurrent POSTs never interleave.
  let writes: Promise<void> = Promise.resolve();

  async function store(records: SinkRecord[]): Promise<void> {
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join("");
    const write = writes.then(() => appendFile(file, text));
    writes = write.catch(() => {});
    await write;
    stored += records.length;
  }

  async function readRecords(since: number, limit: number): Promise<SinkRecord[]> {
    await writes;
    const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return "";
      throw err;
    });
    const records: SinkRecord[] = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        const value: unknown = JSON.parse(line);
        if (isSinkRecord(value) && value.timestamp >= since) records.push(value);
      } catch {
        // A torn line (the process was killed mid-write) is skipped.
      }
    }
    return records.slice(-limit);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    refuseForeignRequest(req);
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/points" && req.method === "POST") {
      const body = (await readBody(req, MAX_BODY_BYTES)).toString("utf8");
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        throw new HttpError(400, "the body is not JSON");
      }
      const records = Array.isArray(parsed) ? parsed : [parsed];
      const bad = records.findIndex((r) => !isSinkRecord(r));
      if (bad >= 0) {
        throw new HttpError(400, `record ${bad} is not {timestamp, indexes: [string], blobs: string[], doubles: number[]}`);
      }
      await store(records as SinkRecord[]);
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === "/points" && req.method === "GET") {
      const since = Number(url.searchParams.get("since") ?? 0);
      const limit = Number(url.searchParams.get("limit") ?? 10_000);
      if (!Number.isFinite(since) || !Number.isInteger(limit) || limit < 1) {
        throw new HttpError(400, "since must be a number (ms) and limit a positive integer");
      }
      return sendJson(res, 200, await readRecords(since, limit));
    }
    if (url.pathname === "/health" && req.method === "GET") return sendJson(res, 200, { status: "ok", file });
    if (url.pathname === "/points" || url.pathname === "/health") {
      res.setHeader("Allow", url.pathname === "/points" ? "GET, POST" : "GET");
      throw new HttpError(405, `Method ${req.method} not allowed on ${url.pathname}`);
    }
    throw new HttpError(404, `No route for ${req.method} ${url.pathname}`);
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return sendJson(res, err.status, { message: err.message });
      sendJson(res, 500, { message: `metrics-sink internal error: ${err instanceof Error ? err.message : String(err)}` });
    });
  });
  const wantedPort = opts.port ?? DEFAULT_METRICS_SINK_PORT;
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new Error(`metrics sink: port ${wantedPort} on ${host} is in use (set METRICS_SINK_PORT to another port)`)
          : err,
      ),
    );
    server.listen(wantedPort, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/points`,
    port,
    file,
    stored: () => stored,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      await writes;
    },
  };
}

async function main(args: string[]): Promise<void> {
  const sink = await startMetricsSink({
    host: cliOption(args, "--host") ?? "127.0.0.1",
    port: Number(cliOption(args, "--port") ?? process.env.METRICS_SINK_PORT ?? DEFAULT_METRICS_SINK_PORT),
    file: cliOption(args, "--file"),
  });
  console.log(`metrics sink on ${sink.url}, appending to ${sink.file}`);
  stopOnSignals(() => sink.close());
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
