/**
 * The throttles' numbers (src/services/throttle-policy.ts) against the bounds they must keep: 5..20 failed
 * logins per account per 15 minutes before 429, a client limit that allows at least 100 failures, and 60
 * successful registrations a minute from one client never refused. The routes' tests show each limit at work.
 */
import { describe, expect, it } from "vitest";
import {
  ACCOUNT_FAILURES_PER_WINDOW,
  CLIENT_FAILURES_PER_WINDOW,
  LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE,
  LOGIN_WINDOW_MINUTES,
  PAIR_FAILURES_PER_WINDOW,
  REGISTER_ATTEMPTS_PER_HOUR,
  REGISTER_ATTEMPTS_PER_MINUTE,
} from "../../src/services/throttle-policy";

describe("login limits", () => {
  it("count over the contract's 15 minutes", () => {
    expect(LOGIN_WINDOW_MINUTES).toBe(15);
  });

  it("refuse one client on one account after 5..20 failures, and strangers after at most 20 on the account", () => {
    expect(PAIR_FAILURES_PER_WINDOW).toBeGreaterThanOrEqual(5);
    expect(PAIR_FAILURES_PER_WINDOW).toBeLessThanOrEqual(20);
    expect(ACCOUNT_FAILURES_PER_WINDOW).toBeLessThanOrEqual(20);
    // One client alone does not close the account to the owner's other, new devices.
    expect(ACCOUNT_FAILURES_PER_WINDOW).toBeGreaterThan(PAIR_FAILURES_PER_WINDOW);
  });

  it("let a client fail at least 100 times across accounts", () => {
    expect(CLIENT_FAILURES_PER_WINDOW).toBeGreaterThanOrEqual(100);
  });

  it("keep the contract's minimum while the throttle's Redis fails: five wrong passwords in a row each get their 401", () => {
    expect(LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE).toBeGreaterThanOrEqual(5);
  });
});

describe("registration limits", () => {
  it("never refuse 60 registrations a minute from one client, kept up for an hour", () => {
    expect(REGISTER_ATTEMPTS_PER_MINUTE).toBeGreaterThan(60);
    expect(REGISTER_ATTEMPTS_PER_HOUR).toBeGreaterThan(60 * 60);
  });
});
