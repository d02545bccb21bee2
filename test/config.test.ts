import { describe, expect, it } from "vitest";
import { DEFAULT_EMAIL_FROM, settingsOf } from "../src/config";

describe("settingsOf", () => {
  it("reads wrangler.toml's development vars", () => {
    expect(
      settingsOf({
        ENVIRONMENT: "development",
        CORS_ORIGINS: "*",
        CACHE_BACKEND: "kv",
        LOG_REQUESTS: "true",
        SERVER_TIMING: "detail",
        EMAIL_FROM: "Tenpo <orders@tenpo.example>",
      }),
    ).toEqual({
      deployed: false,
      localEnvironment: true,
      corsOrigins: "*",
      cacheBackend: "kv",
      requestLog: true,
      serverTiming: "detail",
      emailFrom: "Tenpo <orders@tenpo.example>",
    });
  });

  it("reads a deployed environment's vars", () => {
    const settings = settingsOf({
      ENVIRONMENT: "production",
      CORS_ORIGINS: "https://shop.tenpo.example, https://admin.tenpo.example",
      CACHE_BACKEND: "upstash",
      SERVER_TIMING: "total",
    });
    expect(settings).toMatchObject({
      deployed: true,
      localEnvironment: false,
      corsOrigins: ["https://shop.tenpo.example", "https://admin.tenpo.example"],
      cacheBackend: "upstash",
      serverTiming: "total",
    });
    expect(settingsOf({ ENVIRONMENT: "staging" }).deployed).toBe(true);
    expect(settingsOf({ ENVIRONMENT: "test" }).localEnvironment).toBe(true);
  });

  it("gives missing and unknown values the meaning the code always gave them", () => {
    expect(settingsOf({})).toEqual({
      deployed: false,
      localEnvironment: false,
      corsOrigins: undefined,
      cacheBackend: "kv",
      requestLog: true,
      serverTiming: "off",
      emailFrom: DEFAULT_EMAIL_FROM,
    });
    expect(settingsOf({ ENVIRONMENT: "Production", CACHE_BACKEND: "redis", SERVER_TIMING: "DETAIL", EMAIL_FROM: "" })).toMatchObject({
      deployed: false,
      localEnvironment: false,
      cacheBackend: "kv",
      serverTiming: "off",
      emailFrom: DEFAULT_EMAIL_FROM,
    });
    expect(settingsOf({ ENVIRONMENT: 1, CORS_ORIGINS: ["*"], SERVER_TIMING: true })).toMatchObject({
      deployed: false,
      corsOrigins: undefined,
      serverTiming: "off",
    });
  });

  it("writes a request line unless LOG_REQUESTS says false, 0 or off", () => {
    for (const on of [undefined, null, "", "true", "1", "yes"]) expect(settingsOf({ LOG_REQUESTS: on }).requestLog, String(on)).toBe(true);
    for (const off of ["false", " FALSE ", "0", "off", "Off", false])
      expect(settingsOf({ LOG_REQUESTS: off }).requestLog, String(off)).toBe(false);
  });

  it("parses an env object once", () => {
    const env = { CORS_ORIGINS: "https://a.example" };
    expect(settingsOf(env)).toBe(settingsOf(env));
    expect(settingsOf({ ...env })).not.toBe(settingsOf(env));
  });
});
