import { describe, expect, it } from "vitest";
import { LogThrottle, errorFields } from "../../src/observability/logging";

describe("errorFields", () => {
  it("keeps the SQL and the Postgres error but never the bound parameters", () => {
    const cause = new Error('duplicate key value violates unique constraint "users_email_lower_key"');
    const err = new Error("Failed query: insert into users (email) values ($1)\nparams: someone@example.com,pbkdf2-sha256$100000$abc", {
      cause,
    });
    const fields = errorFields(err);
    const logged = JSON.stringify(fields);
    expect(logged).toContain("insert into users");
    expect(logged).toContain("users_email_lower_key");
    expect(logged).not.toContain("someone@example.com");
    expect(logged).not.toContain("pbkdf2-sha256");
  });

  it("describes values thrown that are not errors", () => {
    expect(errorFields("boom")).toEqual({ error: "boom" });
  });
});

describe("LogThrottle", () => {
  it("logs the first occurrence, then at most once per interval with how many occurrences a line stands for", () => {
    const throttle = new LogThrottle(60_000);
    expect(throttle.count(1_000)).toBe(1);
    expect(throttle.count(2_000)).toBeUndefined();
    expect(throttle.count(30_000)).toBeUndefined();
    expect(throttle.count(61_000)).toBe(3);
    expect(throttle.count(61_001)).toBeUndefined();
  });

  it("starts over on reset: the occurrences not logged yet, and the next one logs at once", () => {
    const throttle = new LogThrottle(60_000);
    expect(throttle.count(1_000)).toBe(1);
    expect(throttle.count(2_000)).toBeUndefined();
    expect(throttle.reset()).toBe(1);
    expect(throttle.count(3_000)).toBe(1);
  });
});
