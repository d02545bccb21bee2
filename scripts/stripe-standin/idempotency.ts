/**
 * Stripe's idempotent requests (https://docs.stripe.com/api/idempotent_requests): a POST with an
 * `Idempotency-Key` that was seen before, with the same endpoint and the same parameters, answers the
 * first answer again (its status and body) without running; with another endpoint or other parameters
 * it is refused (400 idempotency_error). Keys are kept per API key for 24 hours, and only answers the
 * endpoint produced are kept (see StripeFailure.saved).
 */
import { invalidRequest, StripeFailure } from "./errors";

/** How long Stripe keeps a key. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** Stripe's longest key. */
const MAX_KEY_LENGTH = 255;

/** An answer kept for its key. */
export interface SavedAnswer {
  status: number;
  /** The JSON text answered, byte for byte. */
  body: string;
  /** The Request-Id of the request that produced it (Stripe's `Original-Request` header on a replay). */
  requestId: string;
}

interface Entry extends SavedAnswer {
  endpoint: string;
  params: string;
  savedAt: number;
}

/** The answers kept per (API key, Idempotency-Key). */
export class IdempotencyKeys {
  /** Insertion order is the order of `savedAt`, so expiry walks from the front. */
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The answer kept for `key` when this is a repeat of its request; undefined for a key not seen (or
   * expired); throws 400 idempotency_error when the key was used for another endpoint or other parameters.
   */
  replay(apiKey: string, key: string, endpoint: string, params: string): SavedAnswer | undefined {
    this.#expire();
    if (key.length > MAX_KEY_LENGTH) {
      throw invalidRequest(`Idempotency-Key must be at most ${MAX_KEY_LENGTH} characters long (this one has ${key.length}).`);
    }
    const entry = this.#entries.get(`${apiKey}\u0000${key}`);
    if (!entry) return undefined;
    const tryAnother = `Try using a key other than '${key}' if you meant to execute a different request.`;
    if (entry.endpoint !== endpoint) {
      throw conflict(
        `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${endpoint}' vs '${entry.endpoint}'). ${tryAnother}`,
      );
    }
    if (entry.params !== params) {
      throw conflict(`Keys for idempotent requests can only be used with the same parameters they were first used with. ${tryAnother}`);
    }
    return entry;
  }

  /** Keeps `answer` for `key` (the first request of that key). */
  save(apiKey: string, key: string, endpoint: string, params: string, answer: SavedAnswer): void {
    this.#entries.set(`${apiKey}\u0000${key}`, { ...answer, endpoint, params, savedAt: this.now() });
  }

  #expire(): void {
    const oldest = this.now() - IDEMPOTENCY_TTL_MS;
    for (const [key, entry] of this.#entries) {
      if (entry.savedAt > oldest) break;
      this.#entries.delete(key);
    }
  }
}

function conflict(message: string): StripeFailure {
  return new StripeFailure(400, { type: "idempotency_error", message });
}
