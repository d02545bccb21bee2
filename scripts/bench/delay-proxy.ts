/**
 * A TCP proxy that makes a loopback hop cost a real network round trip: what a shopper's requests pay
 * between their device and the nearest Cloudflare location (`npm run bench -- --rtt client=…`).
 *
 * Every chunk of bytes is held for half the round trip in each direction, so a request and its answer
 * on a kept-alive connection cost `rttMs` more than they would without the proxy, and bytes keep their
 * order (one queue per direction, released in the order they arrived). The connection itself is set
 * up at once: opening a new connection, and its TLS handshake, are not charged (the bench's clients
 * keep their connections alive, as browsers do; load/README.md says what a cold one costs).
 * No HTTP is parsed: whatever the Worker answers passes through unchanged.
 */
import net, { type AddressInfo, type Socket } from "node:net";

export interface DelayProxy {
  /** http://127.0.0.1:<port>: the address clients use instead of the target's. */
  url: string;
  port: number;
  /** The round trip now charged, in milliseconds. */
  readonly rttMs: number;
  /** Charges `ms` per round trip from now on (bytes already held keep the delay they got). */
  setRoundTrip(ms: number): void;
  close(): Promise<void>;
}

export interface DelayProxyOptions {
  /** Where the bytes go, e.g. the Worker's port on 127.0.0.1. */
  targetPort: number;
  targetHost?: string;
  host?: string;
  /** 0 = a free port. */
  port?: number;
  rttMs?: number;
}

/** A queue of chunks, each released to `out` once its due time has passed. */
class HeldBytes {
  private readonly queue: Array<{ due: number; chunk: Buffer | null }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: Socket) {}

  /** Holds `chunk` (null: the end of the stream) for `holdMs`. */
  push(chunk: Buffer | null, holdMs: number): void {
    if (holdMs <= 0 && this.queue.length === 0) {
      this.release(chunk);
      return;
    }
    this.queue.push({ due: performance.now() + holdMs, chunk });
    this.schedule();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0]!.due - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      while (this.queue.length > 0 && this.queue[0]!.due <= now + 0.5) this.release(this.queue.shift()!.chunk);
      this.schedule();
    }, wait);
  }

  private release(chunk: Buffer | null): void {
    if (this.out.destroyed) return;
    if (chunk === null) this.out.end();
    else this.out.write(chunk);
  }
}

/** Starts the proxy on 127.0.0.1 (a free port unless `port`). */
export async function startDelayProxy(opts: DelayProxyOptions): Promise<DelayProxy> {
  const host = opts.host ?? "127.0.0.1";
  let rttMs = opts.rttMs ?? 0;
  const sockets = new Set<Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect(opts.targetPort, opts.targetHost ?? "127.0.0.1");
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const toUpstream = new HeldBytes(upstream);
    const toClient = new HeldBytes(client);
    const half = (): number => rttMs / 2;
    client.on("data", (chunk: Buffer) => toUpstream.push(chunk, half()));
    upstream.on("data", (chunk: Buffer) => toClient.push(chunk, half()));
    client.on("end", () => toUpstream.push(null, half()));
    upstream.on("end", () => toClient.push(null, half()));
    const teardown = (): void => {
      toUpstream.clear();
      toClient.clear();
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", teardown);
    upstream.on("error", teardown);
    // The shopper hung up: nothing more to deliver either way. The Worker's end of a connection
    // arrives as "end" and is passed on in order, after the bytes still held.
    client.on("close", teardown);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    get rttMs() {
      return rttMs;
    },
    setRoundTrip(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`round trip must be ≥ 0 ms, got ${ms}`);
      rttMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
