/**
 * Specification of the Stripe stand-in's webhook deliveries (scripts/stripe-standin/events.ts) and of
 * what only raw HTTP can send it, run in Node: workerd cannot listen, so the receivers are Node
 * servers on 127.0.0.1:0, and a Host header of one's choosing needs node:http. Every stand-in here is
 * this file's own, with short retry delays.
 */
import { createHmac } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { afterEach, describe, expect, it } from "vitest";
import { startStripeStandIn, type StripeStandIn } from "../../scripts/stripe-standin";

const apiKey = "sk_test_webhooks-node-test";
const webhookSecret = "whsec_webhooks-node-test";

interface Received {
  body: string;
  signature: string;
  headers: IncomingMessage["headers"];
}

interface Receiver {
  url: string;
  port: number;
  received: Received[];
  close(): Promise<void>;
}

/** A webhook endpoint that answers each delivery with the next of `statuses` (the last one repeats). */
async function startReceiver(statuses: number[], port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      received.push({ body, signature: String(req.headers["stripe-signature"]), headers: req.headers });
      res.writeHead(statuses[Math.min(received.length - 1, statuses.length - 1)]!).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/api/v1/webhooks/stripe`,
    port: address.port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port nothing listens on (for now). */
async function unusedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether `signature` is Stripe's v1 signature of `body` with the endpoint secret. */
function signs(signature: string, body: string): boolean {
  const t = /(?:^|,)t=(\d+)/.exec(signature)?.[1];
  const v1 = /(?:^|,)v1=([0-9a-f]{64})/.exec(signature)?.[1];
  return t !== undefined && v1 === createHmac("sha256", webhookSecret).update(`${t}.${body}`).digest("hex");
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function standIn(webhookUrl: string | undefined, retryDelaysMs: number[]): Promise<{ server: StripeStandIn; stripe: Stripe }> {
  const server = await startStripeStandIn({ apiKey, webhookSecret, webhookUrl, retryDelaysMs });
  cleanups.push(() => server.close());
  const stripe = new Stripe(apiKey, { host: "127.0.0.1", port: String(server.port), protocol: "http", maxNetworkRetries: 0 });
  return { server, stripe };
}

async function deliveriesOf(server: StripeStandIn, paymentIntentId: string): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(`${server.url}/__events?payment_intent=${paymentIntentId}`);
  const { events } = (await res.json()) as { events: Array<{ deliveries: Array<Record<string, unknown>> }> };
  return events.flatMap((e) => e.deliveries);
}

describe("webhook deliveries", () => {
  it("POSTs each event signed, as Stripe does, and stops at the first 2xx", async () => {
    const receiver = await startReceiver([200]);
    cleanups.push(() => receiver.close());
    const { stripe } = await standIn(receiver.url, [20, 20]);
    const pi = await stripe.paymentIntents.create({ amount: 1500, currency: "usd", metadata: { order_id: "1" } });
    await until(() => receiver.received.length === 1);
    const [delivery] = receiver.received;
    expect(delivery!.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(delivery!.headers["user-agent"]).toBe("Stripe/1.0 (+https://stripe.com/docs/webhooks)");
    expect(signs(delivery!.signature, delivery!.body)).toBe(true);
    const event = await Stripe.webhooks.constructEventAsync(delivery!.body, delivery!.signature, webhookSecret);
    expect(event).toMatchObject({ type: "payment_intent.created", pending_webhooks: 1, data: { object: { id: pi.id } } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.received).toHaveLength(1);
  });

  it("re-sends after each non-2xx answer: 500, 500, 200 is the same event three times, each validly signed", async () => {
    const receiver = await startReceiver([500, 500, 200]);
    cleanups.push(() => receiver.close());
    const { server, stripe } = await standIn(receiver.url, [30, 30, 30]);
    const pi = await stripe.paymentIntents.create({ amount: 1500, currency: "usd" });
    await until(() => receiver.received.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(receiver.received).toHaveLength(3);
    const bodies = new Set(receiver.received.map((r) => r.body));
    expect(bodies.size).toBe(1);
    for (const r of receiver.received) expect(signs(r.signature, r.body)).toBe(true);
    expect((await deliveriesOf(server, pi.id)).map((d) => d.status)).toEqual([500, 500, 200]);
  });

  it("retries a receiver that is down until it is up", async () => {
    const port = await unusedPort();
    const { server, stripe } = await standIn(`http://127.0.0.1:${port}/api/v1/webhooks/stripe`, [300, 300, 300]);
    const pi = await stripe.paymentIntents.create({ amount: 1500, currency: "usd" });
    await until(async () => (await deliveriesOf(server, pi.id)).length === 1);
    expect((await deliveriesOf(server, pi.id))[0]).toHaveProperty("error");
    const receiver = await startReceiver([200], port);
    cleanups.push(() => receiver.close());
    await until(() => receiver.received.length === 1);
    expect((await deliveriesOf(server, pi.id)).at(-1)).toMatchObject({ status: 200 });
  });

  it("gives up after the last retry delay", async () => {
    const receiver = await startReceiver([503]);
    cleanups.push(() => receiver.close());
    const { stripe } = await standIn(receiver.url, [10, 10]);
    await stripe.paymentIntents.create({ amount: 1500, currency: "usd" });
    await until(() => receiver.received.length === 3);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(receiver.received).toHaveLength(3);
  });

  it("delivers every event of a payment on its own", async () => {
    const receiver = await startReceiver([200]);
    cleanups.push(() => receiver.close());
    const { stripe } = await standIn(receiver.url, [20]);
    const pi = await stripe.paymentIntents.create({ amount: 1500, currency: "usd" });
    await stripe.paymentIntents.confirm(pi.id, { payment_method: "pm_card_visa" });
    await stripe.refunds.create({ payment_intent: pi.id });
    await until(() => receiver.received.length === 3);
    const types = receiver.received.map((r) => (JSON.parse(r.body) as { type: string }).type).sort();
    expect(types).toEqual(["charge.refunded", "payment_intent.created", "payment_intent.succeeded"]);
  });
});

describe("what only raw HTTP can send", () => {
  /** One request carrying exactly `headers` (Host included). */
  function send(port: number, path: string, headers: Record<string, string>): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path, headers, setHost: false, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once("error", reject);
      req.end();
    });
  }

  it("refuses a Host that is not this machine and a foreign Origin (403), API and test hooks alike", async () => {
    const { server } = await standIn(undefined, []);
    const auth = { Authorization: `Bearer ${apiKey}` };
    expect(await send(server.port, "/v1/refunds", { ...auth, Host: `127.0.0.1:${server.port}` })).toBe(200);
    expect(await send(server.port, "/v1/refunds", { ...auth, Host: "attacker.example" })).toBe(403);
    expect(await send(server.port, "/__events", { Host: "attacker.example" })).toBe(403);
    expect(await send(server.port, "/v1/refunds", { ...auth, Host: `localhost:${server.port}`, Origin: "https://attacker.example" })).toBe(
      403,
    );
    expect(await send(server.port, "/v1/refunds", { ...auth, Host: `localhost:${server.port}`, Origin: "http://localhost:3000" })).toBe(
      200,
    );
  });

  it("accepts the key as a Basic user name, as `curl -u sk_test_…:` sends it", async () => {
    const { server } = await standIn(undefined, []);
    const basic = `Basic ${Buffer.from(`${apiKey}:`).toString("base64")}`;
    expect(await send(server.port, "/v1/refunds", { Authorization: basic, Host: `127.0.0.1:${server.port}` })).toBe(200);
    const wrong = `Basic ${Buffer.from("sk_test_wrong:").toString("base64")}`;
    expect(await send(server.port, "/v1/refunds", { Authorization: wrong, Host: `127.0.0.1:${server.port}` })).toBe(401);
  });
});
