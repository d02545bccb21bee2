import { ApiError } from "../errors";
import { warnThrottled } from "../observability/logging";
import {
  HASH_BUSY_RETRY_AFTER_SECONDS,
  HASH_CONCURRENCY,
  HASH_PAUSE_MS,
  MAX_WAITING_HASHES,
  TURN_CLAIM_MS,
  TURN_HOLD_MS,
  WAITER_CHECK_MS,
} from "./password-policy";

/** What a gate allows; the isolate's gate uses password-policy.ts, tests make smaller ones. */
export type GateLimits = {
  /** Works running at once. */
  concurrency: number;
  /** Callers that may wait; the next one is refused with 503. */
  maxWaiting: number;
  /** `Retry-After` of that 503, in seconds. */
  retryAfterSeconds: number;
  /** After each work its turn is kept for a timer of this many ms: a new macrotask, after pending I/O. */
  pauseMs: number;
  /** The first in line that does not take a free turn within this is dropped (its request went away). */
  claimMs: number;
  /** A turn not given back within this is taken back (its work never settled). */
  holdMs: number;
  /** Each waiter also looks at the gate this often, on its own timer. */
  checkMs: number;
};

export const PASSWORD_GATE_LIMITS: Readonly<GateLimits> = {
  concurrency: HASH_CONCURRENCY,
  maxWaiting: MAX_WAITING_HASHES,
  retryAfterSeconds: HASH_BUSY_RETRY_AFTER_SECONDS,
  pauseMs: HASH_PAUSE_MS,
  claimMs: TURN_CLAIM_MS,
  holdMs: TURN_HOLD_MS,
  checkMs: WAITER_CHECK_MS,
};

/** A running work's turn. `released` is made and settled by the request that holds the turn. */
type Turn = { expiresAt: number; released: Promise<void>; release: () => void };
/** A waiting caller; only its identity matters (its place in line). */
type Waiter = symbol;

/**
 * A per-isolate FIFO gate for CPU-bound work that would otherwise hold the isolate's thread for
 * everyone (password hashing: see password-policy.ts). At most `concurrency` works run at once; the
 * others wait in arrival order, at most `maxWaiting` of them, and the next work starts only after a
 * timer that follows the previous one, so requests already queued in the event loop are served in
 * between. Past the
 * bound the caller gets 503 `service_unavailable` with `Retry-After` at once, instead of a latency
 * that grows with the queue.
 *
 * The callers are different requests, and workerd only lets a request settle promises it made
 * itself: so a finishing work does not hand its turn to the next caller, it settles its own
 * `released`, which every waiter watches; the first in line then takes the turn. Each waiter also
 * has a timer of its own, which (besides giving the request something of its own pending) finds what
 * a request that went away left behind: a turn never given back, or a first place never taken.
 */
export class WorkGate {
  private readonly turns = new Set<Turn>();
  private readonly waiters: Waiter[] = [];
  /** Since when a turn has been free while someone waits: the first in line should be taking it. */
  private freeSince: number | undefined;

  /** Replaceable in tests only (e.g. a smaller maxWaiting); read at every call. */
  limits: Readonly<GateLimits>;

  constructor(limits: Readonly<GateLimits>) {
    this.limits = limits;
  }

  /** Callers waiting for a turn now. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Runs `work` when its turn comes; throws 503 (ApiError) at once when too many are waiting already. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const turn = await this.take();
    try {
      return await work();
    } finally {
      // Kept until a timer fires: what arrived during the work (other requests' answers, a new
      // request, and the next hashes' callers, which then queue) runs before the next work starts.
      // A work that runs synchronously leaves no other chance for that: its caller would come in
      // the macrotask right after it and find the gate free.
      await new Promise((resolve) => setTimeout(resolve, this.limits.pauseMs));
      this.giveBack(turn);
    }
  }

  private async take(): Promise<Turn> {
    this.reclaimLost();
    if (this.waiters.length === 0 && this.hasFreeTurn()) return this.open();
    if (this.waiters.length >= this.limits.maxWaiting) {
      throw ApiError.serviceUnavailable("Too many sign-ins are being checked right now; try again shortly", this.limits.retryAfterSeconds);
    }
    const me: Waiter = Symbol("waiter");
    this.waiters.push(me);
    this.noteFree();
    try {
      // Dropped as lost (we came too late): take a turn all the same, one extra work at once is
      // better than a sign-in that never runs.
      while (this.waiters.includes(me) && !(this.waiters[0] === me && this.hasFreeTurn())) {
        await this.change();
        this.reclaimLost();
      }
    } finally {
      const at = this.waiters.indexOf(me);
      if (at >= 0) this.waiters.splice(at, 1);
    }
    return this.open();
  }

  /** Until a running work gives its turn back, or this request's own timer fires. */
  private async change(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.limits.checkMs)));
    try {
      await Promise.race([tick, ...[...this.turns].map((turn) => turn.released)]);
    } finally {
      clearTimeout(timer); // here, in the waiting request: workerd refuses to touch one request's timer from another
    }
  }

  private hasFreeTurn(): boolean {
    return this.turns.size < this.limits.concurrency;
  }

  private open(): Turn {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const turn: Turn = { expiresAt: Date.now() + this.limits.holdMs, released, release };
    this.turns.add(turn);
    this.freeSince = undefined;
    this.noteFree();
    return turn;
  }

  private giveBack(turn: Turn): void {
    this.turns.delete(turn);
    this.noteFree();
    turn.release();
  }

  private noteFree(): void {
    if (this.waiters.length === 0 || !this.hasFreeTurn()) this.freeSince = undefined;
    else this.freeSince ??= Date.now();
  }

  /** Takes back what requests that went away left: turns past holdMs, a first place not taken within claimMs. */
  private reclaimLost(): void {
    const now = Date.now();
    for (const turn of this.turns) {
      if (turn.expiresAt > now) continue;
      this.turns.delete(turn);
      this.lost("a turn was not given back in time", { hold_ms: this.limits.holdMs });
    }
    this.noteFree();
    if (this.freeSince !== undefined && now - this.freeSince >= this.limits.claimMs) {
      this.waiters.shift();
      this.freeSince = undefined;
      this.noteFree();
      this.lost("the first in line did not take its turn in time", { claim_ms: this.limits.claimMs });
    }
  }

  private lost(what: string, fields: Record<string, number>): void {
    warnThrottled("work-gate-lost", `password gate: ${what}; it goes to the next waiter`, { ...fields, waiting: this.waiters.length });
  }
}

/**
 * This isolate's gate for password work: every PBKDF2 derivation (login, the unknown-account check,
 * registration) goes through it, so the three cost the same wait and none of them can starve reads.
 */
export const passwordGate = new WorkGate(PASSWORD_GATE_LIMITS);
