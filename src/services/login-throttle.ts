import type { Ratelimit } from "@upstash/ratelimit";
import { accountKeyFor } from "./throttle-keys";
import {
  ACCOUNT_FAILURES_PER_WINDOW,
  CLIENT_FAILURES_PER_WINDOW,
  FALLBACK_RETRY_AFTER_SECONDS,
  FAMILIAR_REFRESH_MS,
  FAMILIAR_TTL_SECONDS,
  LOGIN_WINDOW,
  PAIR_FAILURES_PER_WINDOW,
} from "./throttle-policy";
import { ThrottleStore, countOnBinding, rateLimited, secondsUntil, type ThrottleEnv } from "./throttle-store";

/**
 * Login throttling: only failures count, each decided atomically AFTER the password was checked, with a
 * cheap read before.
 *
 *   before the hash   one read (no increment) of what is left; a client that may not try now gets 429
 *                     `rate_limited` + `Retry-After` without a hash being spent on it;
 *   a wrong password  is counted with the limiter's atomic limit() (which does not count past its limit),
 *                     and that result decides the answer: counted within the limit → 401, over it → 429.
 *                     So N concurrent wrong guesses get exactly the limit of 401s and the rest 429, and a
 *                     guess over the limit never tells right from wrong;
 *   a right password  counts nothing, and is refused with 429 only while its client is locked out of the
 *                     account (read again after the hash, so it cannot slip through a burst of wrong
 *                     guesses that filled the limit meanwhile). Concurrent right logins never refuse each
 *                     other: 200 logins of one account from one client in a few seconds all succeed.
 *
 * Why not count every attempt before the hash and give it back on success? Then concurrent right logins
 * of one account would use up its budget between them and refuse each other (the load test logs 200
 * users in as one account from one client within seconds), and a refund would come too late for them.
 *
 * Three counters (numbers and why in throttle-policy.ts), counted in sequence: the pair first, the wider
 * two only for a guess the pair admitted, so one client's burst yields exactly the pair's limit of 401s:
 *   - (account, client): the hard lock; reached, that client is refused on that account, right password
 *     or not, until the window has passed;
 *   - the account, across clients, and the client, across accounts: reached, they refuse only clients
 *     unfamiliar to the account. A client is familiar when it logged in to the account successfully
 *     within FAMILIAR_TTL_SECONDS (a key per pair, written on success). So a third party guessing from
 *     many addresses cannot lock the owner out, and one address spraying many accounts (or an office
 *     behind one NAT) does not lock out the people who log in from there.
 *
 * When the throttle's Redis fails (throttle-store.ts), the attempt is counted once on the Workers Rate
 * Limiting binding instead, per account (LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE): before the password is
 * checked when the read before fails, and so right passwords count too, since the binding cannot be
 * read without counting; at the outcome when Redis fails only then. Past its limit 429. Without that
 * binding too, 503: the throttle never silently becomes unlimited.
 */

/** Who is trying: the account (lower-cased email) and the client (see throttle-keys.ts `clientKeyFor`). */
export type LoginAttempt = { email: string; client: string };

type Window = { remaining: number; reset: number };
/** What the read before (and after) the hash found. `account` and `client` only matter to unfamiliar clients. */
type Standing = { pair: Window; account?: Window; client?: Window };

const RATE_LIMITED = "Too many failed login attempts; try again later";

export class LoginThrottle {
  private readonly pair: Ratelimit;
  private readonly account: Ratelimit;
  private readonly client: Ratelimit;

  constructor(
    private readonly store: ThrottleStore,
    private readonly fallback: RateLimit | undefined,
  ) {
    this.pair = store.slidingWindow("login:pair", PAIR_FAILURES_PER_WINDOW, LOGIN_WINDOW);
    this.account = store.slidingWindow("login:account", ACCOUNT_FAILURES_PER_WINDOW, LOGIN_WINDOW);
    this.client = store.slidingWindow("login:client", CLIENT_FAILURES_PER_WINDOW, LOGIN_WINDOW);
  }

  /**
   * Before the password is checked: throws 429 when this client may not try this account now (503 when
   * nothing can count the attempt); otherwise the check to finish once the password has been verified.
   */
  async begin(attempt: LoginAttempt): Promise<LoginCheck> {
    const keys = await keysOf(attempt, this.store);
    const read = await this.store.call("check", () =>
      Promise.all([
        this.pair.getRemaining(keys.pair),
        this.account.getRemaining(keys.account),
        this.client.getRemaining(keys.client),
        this.store.client.get<number | string>(keys.familiar),
      ]),
    );
    if (!read) {
      await this.countOnFallback(keys);
      return COUNTED_ALREADY;
    }
    const [pair, account, client, written] = read.value;
    const familiarSince = written === null ? null : Number(written);
    refuseWhileLocked({ pair, account, client }, familiarSince !== null);
    return {
      failed: () => this.countFailure(keys, familiarSince !== null),
      succeeded: () => this.admitSuccess(keys, familiarSince),
    };
  }

  /** Counts a wrong password: returns (answer 401) when counted within the limits, throws 429 when over. */
  private async countFailure(keys: Keys, familiar: boolean): Promise<void> {
    const pair = await this.store.call("count", () => this.pair.limit(keys.pair));
    if (!pair) return this.countOnFallback(keys);
    if (!pair.value.success) throw rateLimited(RATE_LIMITED, secondsUntil(pair.value.reset));
    const wide = await this.store.call("count", () => Promise.all([this.account.limit(keys.account), this.client.limit(keys.client)]));
    if (!wide) return this.countOnFallback(keys);
    if (familiar) return;
    const over = wide.value.filter((result) => !result.success);
    if (over.length > 0) throw rateLimited(RATE_LIMITED, secondsUntil(Math.max(...over.map((result) => result.reset))));
  }

  /** A right password: throws 429 while this client is locked out of the account, else remembers the client. */
  private async admitSuccess(keys: Keys, familiarSince: number | null): Promise<void> {
    const familiar = familiarSince !== null;
    const read = await this.store.call("check", () =>
      Promise.all([
        this.pair.getRemaining(keys.pair),
        ...(familiar ? [] : [this.account.getRemaining(keys.account), this.client.getRemaining(keys.client)]),
      ]),
    );
    if (!read) return this.countOnFallback(keys);
    const [pair, account, client] = read.value;
    refuseWhileLocked({ pair: pair!, account, client }, familiar);
    const now = Date.now();
    // Written long enough ago (or unreadable): renew it.
    if (familiarSince === null || !(now - familiarSince < FAMILIAR_REFRESH_MS)) {
      await this.store.call("remember", () => this.store.client.set(keys.familiar, String(now), { ex: FAMILIAR_TTL_SECONDS }));
    }
  }

  /** The attempt counted on the binding instead: returns within its limit, 429 past it, 503 without it. */
  private async countOnFallback(keys: Keys): Promise<void> {
    if (!(await countOnBinding(this.fallback, `login:${keys.account}`))) throw rateLimited(RATE_LIMITED, FALLBACK_RETRY_AFTER_SECONDS);
  }
}

/** One login attempt between the read before the hash and its outcome; each method throws 429 when it must be refused. */
export type LoginCheck = {
  /** The password was wrong: returns when the caller may answer 401. */
  failed(): Promise<void>;
  /** The password was right: returns when the caller may log the user in. */
  succeeded(): Promise<void>;
};

/** An attempt counted on the binding before the hash: its outcome counts nothing more. */
const COUNTED_ALREADY: LoginCheck = { failed: async () => {}, succeeded: async () => {} };

/** The throttle of one request: its store and the binding that stands in when that store fails. */
export function createLoginThrottle(env: ThrottleEnv & Pick<Env, "LOGIN_FALLBACK_LIMITER">): LoginThrottle {
  return new LoginThrottle(new ThrottleStore(env), env.LOGIN_FALLBACK_LIMITER);
}

type Keys = { account: string; client: string; pair: string; familiar: string };

async function keysOf(attempt: LoginAttempt, store: ThrottleStore): Promise<Keys> {
  const account = await accountKeyFor(attempt.email);
  const pair = `${account}:${attempt.client}`;
  return { account, client: attempt.client, pair, familiar: store.key(`login:familiar:${pair}`) };
}

/** Throws 429 when the pair is locked, or, for a client unfamiliar to the account, a wider limit is reached. */
function refuseWhileLocked(standing: Standing, familiar: boolean): void {
  const windows = familiar ? [standing.pair] : [standing.pair, standing.account, standing.client];
  const exhausted = windows.filter((w): w is Window => w !== undefined && w.remaining <= 0);
  if (exhausted.length > 0) throw rateLimited(RATE_LIMITED, secondsUntil(Math.max(...exhausted.map((w) => w.reset))));
}
