import type { Ratelimit } from "@upstash/ratelimit";
import {
  FALLBACK_RETRY_AFTER_SECONDS,
  REGISTER_ATTEMPTS_PER_HOUR,
  REGISTER_ATTEMPTS_PER_MINUTE,
  REGISTER_TAKEN_PER_WINDOW,
  REGISTER_TAKEN_WINDOW,
} from "./throttle-policy";
import { ThrottleStore, countOnBinding, rateLimited, secondsUntil, type ThrottleEnv } from "./throttle-store";

/**
 * Registration throttling, per client (numbers and why in throttle-policy.ts). Unlike a login, every
 * registration costs a PBKDF2 hash whether it succeeds or not, and a successful one is what mass
 * account creation is made of, so attempts are counted BEFORE the hash, successful ones too:
 *   - per minute and per hour, sized so that 60 successful registrations a minute from one client are
 *     never refused (the hour only for attempts the minute admitted, so a refused burst does not use up
 *     the hour);
 *   - 409 `email_taken` answers per 15 minutes (each tells that an address has an account): counted
 *     when the insert finds the address taken, with the limiter's atomic limit() deciding 409 (within)
 *     or 429 (over), so a burst cannot get more 409s than the cap; once reached, the client's
 *     registrations are refused before any hash until the window has passed.
 *
 * When the throttle's Redis fails, attempts are counted per client on the Workers Rate Limiting binding
 * instead (REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE; the hour and the 409 cap are not kept meanwhile);
 * without that binding too, 503.
 */

const RATE_LIMITED = "Too many registrations from this address; try again later";

/** What a register throttle allows per client; the app's uses throttle-policy.ts, tests make smaller ones. */
export type RegisterLimits = { perMinute: number; perHour: number; takenPerWindow: number };

export const REGISTER_LIMITS: Readonly<RegisterLimits> = {
  perMinute: REGISTER_ATTEMPTS_PER_MINUTE,
  perHour: REGISTER_ATTEMPTS_PER_HOUR,
  takenPerWindow: REGISTER_TAKEN_PER_WINDOW,
};

export class RegisterThrottle {
  private readonly minute: Ratelimit;
  private readonly hour: Ratelimit;
  private readonly taken: Ratelimit;

  constructor(
    private readonly store: ThrottleStore,
    private readonly fallback: RateLimit | undefined,
    limits: Readonly<RegisterLimits> = REGISTER_LIMITS,
  ) {
    this.minute = store.slidingWindow("register:minute", limits.perMinute, "1 m");
    this.hour = store.slidingWindow("register:hour", limits.perHour, "1 h");
    this.taken = store.slidingWindow("register:taken", limits.takenPerWindow, REGISTER_TAKEN_WINDOW);
  }

  /**
   * Counts a registration attempt of `client` before its password is hashed: returns the check to call
   * when the address turns out taken; throws 429 when the client may not register now, 503 when nothing
   * can count the attempt.
   */
  async begin(client: string): Promise<RegisterCheck> {
    const first = await this.store.call("check", () => Promise.all([this.taken.getRemaining(client), this.minute.limit(client)]));
    if (!first) return this.countOnFallback(client);
    const [taken, minute] = first.value;
    if (taken.remaining <= 0) throw rateLimited(RATE_LIMITED, secondsUntil(taken.reset));
    if (!minute.success) throw rateLimited(RATE_LIMITED, secondsUntil(minute.reset));
    const hour = await this.store.call("count", () => this.hour.limit(client));
    if (!hour) return this.countOnFallback(client);
    if (!hour.value.success) throw rateLimited(RATE_LIMITED, secondsUntil(hour.value.reset));
    return { taken: () => this.countTaken(client) };
  }

  /** The address was taken: returns when the caller may answer 409, throws 429 past the cap. */
  private async countTaken(client: string): Promise<void> {
    const taken = await this.store.call("count", () => this.taken.limit(client));
    // null: Redis failed after admitting the attempt; the 409 cap is not kept while it fails.
    if (taken && !taken.value.success) throw rateLimited(RATE_LIMITED, secondsUntil(taken.value.reset));
  }

  private async countOnFallback(client: string): Promise<RegisterCheck> {
    if (!(await countOnBinding(this.fallback, `register:${client}`))) throw rateLimited(RATE_LIMITED, FALLBACK_RETRY_AFTER_SECONDS);
    return COUNTED_ALREADY;
  }
}

/** One registration attempt after it was admitted. */
export type RegisterCheck = {
  /** The address has an account: returns when the caller may answer 409, throws 429 when it must not. */
  taken(): Promise<void>;
};

/** An attempt counted on the binding: nothing more is counted for it. */
const COUNTED_ALREADY: RegisterCheck = { taken: async () => {} };

/** The registration throttle of one request: its store and the binding that stands in when that store fails. */
export function createRegisterThrottle(env: ThrottleEnv & Pick<Env, "REGISTER_FALLBACK_LIMITER">): RegisterThrottle {
  return new RegisterThrottle(new ThrottleStore(env), env.REGISTER_FALLBACK_LIMITER);
}
