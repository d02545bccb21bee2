import { describe, expect, it } from "vitest";
import { errorFields } from "../src/log";

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
