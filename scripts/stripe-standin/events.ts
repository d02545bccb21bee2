/**
 * Stripe's events and webhook deliveries (https://docs.stripe.com/webhooks):
 *
 *   - an Event object `{id: "evt_…", object: "event", api_version, created, data: {object}, livemode,
 *     pending_webhooks, request: {id, idempotency_key}, type}`, its body JSON pretty-printed with two
 *     spaces as Stripe sends it (a receiver that re-serialises the body breaks the signature, as with Stripe);
 *   - signed as Stripe signs: `Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with
 *     the endpoint secret>`, afresh for every delivery attempt (a new `t` each time, as Stripe does, so a
 *     retry hours later still passes a receiver's 300 s tolerance);
 *   - POSTed to the endpoint URL (`Content-Type: application/json; charset=utf-8`,
 *     `User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)`), and again after each answer that is
 *     not 2xx, a network failure or no answer within DELIVERY_TIMEOUT_MS, after each of `retryDelaysMs`,
 *     then given up. Stripe retries for up to three days; the default delays here are minutes, for a
 *     developer's machine.
 *   - Each event is delivered on its own, as soon as it happens (possibly before the API answer that
 *     caused it reaches its caller): no ordering between events, like Stripe.
 */
import { createHmac } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { EventType } from "./account";
import { newId, unixNow } from "./objects";

/** What happened to one delivery attempt: the receiver's status, or why there was none. */
export type Delivery = { at: string; status: number } | { at: string; error: string };

/** An event as the stand-in keeps it. */
export interface StoredEvent {
  id: string;
  type: EventType;
  /** The PaymentIntent it concerns (a refund's: its charge's). */
  paymentIntentId: string;
  /** The exact body text that is signed and sent. */
  payload: string;
  deliveries: Delivery[];
}

/** Stripe's retries squeezed into minutes (Stripe: up to three days with exponential backoff). */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1000, 5000, 30_000, 120_000];
/** How long a receiver has to answer one delivery. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** The oldest events are forgotten beyond this many (their deliveries stop too). */
const MAX_EVENTS = 10_000;

export interface EventLogOptions {
  webhookSecret: string;
  webhookUrl?: string;
  retryDelaysMs?: readonly number[];
  /** The API version events are rendered in (the account's default version, in Stripe's terms). */
  apiVersion: string;
  log: (line: string) => void;
}

/** The events of one stand-in, oldest first, and their deliveries to the webhook URL. */
export class EventLog {
  readonly #events: StoredEvent[] = [];
  readonly #retryDelaysMs: readonly number[];
  /** Aborts deliveries in flight and wakes waiting retries when the stand-in closes. */
  readonly #closing = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: EventLogOptions) {
    this.#retryDelaysMs = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    // Every waiting retry and every delivery in flight listens for the close: many at once is normal.
    setMaxListeners(0, this.#closing.signal);
  }

  /** Records an event about `object` (as it is now) caused by the API request `request`, and delivers it. */
  record(type: EventType, object: unknown, paymentIntentId: string, request: { id: string; idempotency_key: string | null }): StoredEvent {
    const event = {
      id: newId("evt"),
      object: "event",
      api_version: this.opts.apiVersion,
      created: unixNow(),
      data: { object },
      livemode: false,
      pending_webhooks: this.opts.webhookUrl ? 1 : 0,
      request,
      type,
    };
    const stored: StoredEvent = { id: event.id, type, paymentIntentId, payload: JSON.stringify(event, null, 2), deliveries: [] };
    this.#events.push(stored);
    if (this.#events.length > MAX_EVENTS) this.#events.shift();
    if (this.opts.webhookUrl) this.#track(this.#deliver(stored, this.opts.webhookUrl));
    return stored;
  }

  /** The events about one PaymentIntent (every event without it), optionally of one type, oldest first. */
  list(filter: { paymentIntentId?: string; type?: string }): StoredEvent[] {
    return this.#events.filter(
      (e) =>
        (filter.paymentIntentId === undefined || e.paymentIntentId === filter.paymentIntentId) &&
        (filter.type === undefined || e.type === filter.type),
    );
  }

  /** A `Stripe-Signature` header for `payload` made at `timestamp` (unix seconds, default now). */
  sign(payload: string, timestamp = unixNow()): string {
    const v1 = createHmac("sha256", this.opts.webhookSecret).update(`${timestamp}.${payload}`, "utf8").digest("hex");
    return `t=${timestamp},v1=${v1}`;
  }

  /** Stops every delivery and retry; resolves when those in flight have ended. */
  async close(): Promise<void> {
    // Wakes every waiting retry (which then stops) and aborts every POST in flight.
    this.#closing.abort();
    await Promise.allSettled([...this.#inFlight]);
  }

  async #deliver(event: StoredEvent, url: string): Promise<void> {
    for (let attempt = 0; !this.#closing.signal.aborted; attempt++) {
      if (await this.#attempt(event, url)) return;
      const delay = this.#retryDelaysMs[attempt];
      if (delay === undefined) {
        this.opts.log(`gave up delivering ${event.id} (${event.type}) after ${attempt + 1} attempts`);
        return;
      }
      await this.#sleep(delay);
    }
  }

  /** One POST of the event, signed now; true when the receiver answered 2xx. */
  async #attempt(event: StoredEvent, url: string): Promise<boolean> {
    const at = new Date().toISOString();
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json; charset=utf-8",
          "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
          Accept: "*/*; q=0.5, application/xml",
          "Cache-Control": "no-cache",
          "Stripe-Signature": this.sign(event.payload),
        },
        body: event.payload,
        signal: AbortSignal.any([this.#closing.signal, AbortSignal.timeout(DELIVERY_TIMEOUT_MS)]),
      });
      // The answer's body is not read, as Stripe reads only its status.
      await res.body?.cancel();
      event.deliveries.push({ at, status: res.status });
      this.opts.log(`delivered ${event.id} (${event.type}) to ${url}: ${res.status}`);
      return res.status >= 200 && res.status < 300;
    } catch (err) {
      if (this.#closing.signal.aborted) return true;
      const error = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      event.deliveries.push({ at, error });
      this.opts.log(`delivering ${event.id} (${event.type}) to ${url} failed: ${error}`);
      return false;
    }
  }

  /** Waits `ms`, or until the stand-in closes. */
  #sleep(ms: number): Promise<void> {
    const signal = this.#closing.signal;
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      signal.addEventListener("abort", wake, { once: true });
    });
  }

  #track(delivery: Promise<void>): void {
    this.#inFlight.add(delivery);
    void delivery.finally(() => this.#inFlight.delete(delivery));
  }
}
