import { describe, expect, it } from "vitest";
import { isLocalConnectionString, isLoopbackHostname } from "../../src/lib/loopback";

describe("isLoopbackHostname", () => {
  it.each(["localhost", "LOCALHOST", "localhost.", "tenpo.localhost", "a.b.localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"])(
    "counts %s as this machine",
    (name) => {
      expect(isLoopbackHostname(name)).toBe(true);
    },
  );

  it.each([
    "",
    "0.0.0.0",
    "128.0.0.1",
    "127.0.0.1.nip.io",
    "localhost.evil.example",
    "evillocalhost",
    "::2",
    "[::ffff:7f00:1]",
    "10.0.0.1",
  ])("does not count %s", (name) => {
    expect(isLoopbackHostname(name)).toBe(false);
  });
});

describe("isLocalConnectionString", () => {
  it.each([
    "postgres://postgres@127.0.0.1:5432/tenpo",
    "postgresql://postgres@localhost/tenpo",
    "postgres://postgres@[::1]:5432/tenpo",
    "postgres:///tenpo",
    "postgres://%2Fvar%2Frun%2Fpostgresql/tenpo",
    "postgres://postgres@db.example.com/tenpo?host=/var/run/postgresql",
  ])("counts %s as a database on this machine", (url) => {
    expect(isLocalConnectionString(url)).toBe(true);
  });

  it.each([
    "postgres://user:pw@ep-quiet-sea-123456.eu-central-1.aws.neon.tech/tenpo?sslmode=require",
    "postgres://postgres@127.0.0.1/tenpo?host=db.example.com",
    "postgres://postgres@127.0.0.1/tenpo?host=/tmp,db.example.com",
    "not a url",
    "",
  ])("does not count %s", (url) => {
    expect(isLocalConnectionString(url)).toBe(false);
  });
});
