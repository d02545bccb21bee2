/**
 * Specification of src/services/passwords.ts, run inside workerd (the WebCrypto the Worker uses).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { PASSWORD_GATE_LIMITS, passwordGate } from "../../src/services/password-gate";
import {
  MAX_PBKDF2_ITERATIONS,
  PASSWORD_HASH_ITERATIONS,
  hashPassword,
  verifyPassword,
  verifyPasswordOfUnknownAccount,
} from "../../src/services/passwords";

// Written by the demo seed (scripts/seed/loader.ts) in Node: hashPasswordForSeed("password123", demoSaltFor("test@example.com"))
// and hashPasswordForSeed("admin123", demoSaltFor("admin@example.com")).
const SEED_TEST_USER_HASH = "pbkdf2-sha256$100000$tcpWD0hebHmQwiam9O2D+A==$N4YCnxwd0Z1OHUqdVgkVA2YvaYLNcSNlhcNI1lgO1LU=";
const SEED_ADMIN_HASH = "pbkdf2-sha256$100000$CGu4kiByvqTYjIiNY4357g==$LlLP92IyVcdL196+3cnPOrP6AVOBAQvIiaCC6ftpTY4=";

const HASH_FORMAT = /^pbkdf2-sha256\$([0-9]+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;
const utf8 = new TextEncoder();

const base64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));
const bytesOf = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

/** PBKDF2-SHA256 computed here, independently of the service, in the stored format. */
async function pbkdf2Hash(password: string, salt: Uint8Array, iterations: number, keyBytes = 32): Promise<string> {
  const material = await crypto.subtle.importKey("raw", utf8.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, keyBytes * 8);
  return `pbkdf2-sha256$${iterations}$${base64(salt)}$${base64(new Uint8Array(bits))}`;
}

/** The demo seed's salt rule (scripts/seed/data.ts): the first 16 bytes of sha256("tenpo-demo-salt:<email>"). */
async function seedSaltFor(email: string): Promise<Uint8Array> {
  const digest = await crypto.subtle.digest("SHA-256", utf8.encode(`tenpo-demo-salt:${email}`));
  return new Uint8Array(digest).slice(0, 16);
}

afterEach(() => {
  vi.restoreAllMocks();
  passwordGate.limits = PASSWORD_GATE_LIMITS;
});

describe("iteration count", () => {
  it("stays within what deployed Workers accept (at most 100,000 PBKDF2 iterations)", () => {
    expect(MAX_PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000);
    expect(PASSWORD_HASH_ITERATIONS).toBeLessThanOrEqual(MAX_PBKDF2_ITERATIONS);
  });

  it("hashes with the iteration count it exports", async () => {
    const [, iterations] = HASH_FORMAT.exec(await hashPassword("correct horse"))!;
    expect(Number(iterations)).toBe(PASSWORD_HASH_ITERATIONS);
  });

  it("refuses a correct hash that claims more iterations than the cap, instead of deriving it", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    // Local workerd computes it; a deployed Worker would throw. The service must not even try.
    const overCap = await pbkdf2Hash("correct horse", crypto.getRandomValues(new Uint8Array(16)), MAX_PBKDF2_ITERATIONS + 1);
    const deriveBits = vi.spyOn(crypto.subtle, "deriveBits");
    expect(await verifyPassword("correct horse", overCap)).toBe(false);
    expect(deriveBits).not.toHaveBeenCalled();
  });

  it("answers at once for an absurd iteration count rather than spending seconds of CPU on it", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    // 20 million: seconds of CPU if attempted (Workers allow 100,000), small enough not to hang a regression.
    const absurd = SEED_TEST_USER_HASH.replace("$100000$", "$20000000$");
    const started = Date.now();
    expect(await verifyPassword("password123", absurd)).toBe(false);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it("logs one JSON line naming the refused iteration count", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    await verifyPassword("x", SEED_TEST_USER_HASH.replace("$100000$", "$100001$"));
    expect(error).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(error.mock.calls[0]![0]))).toMatchObject({ level: "error", iterations: 100_001, max: 100_000 });
  });
});

describe("hashPassword", () => {
  it("writes pbkdf2-sha256$<iterations>$<16-byte salt>$<32-byte key> in standard base64", async () => {
    const hash = await hashPassword("correct horse battery staple");
    const [, , salt, key] = HASH_FORMAT.exec(hash)!;
    expect(bytesOf(salt!).byteLength).toBe(16);
    expect(bytesOf(key!).byteLength).toBe(32);
  });

  it("derives exactly PBKDF2-HMAC-SHA256 over the UTF-8 password with the stored salt", async () => {
    const hash = await hashPassword("pässwörd ✓");
    const [, iterations, salt] = HASH_FORMAT.exec(hash)!;
    expect(await pbkdf2Hash("pässwörd ✓", bytesOf(salt!), Number(iterations))).toBe(hash);
  });

  it("uses a fresh random salt each time", async () => {
    const [a, b] = await Promise.all([hashPassword("same password"), hashPassword("same password")]);
    expect(a).not.toBe(b);
    expect(HASH_FORMAT.exec(a)![2]).not.toBe(HASH_FORMAT.exec(b)![2]);
  });
});

describe("verifyPassword", () => {
  it("accepts the password a hash was made from and nothing else", async () => {
    const hash = await hashPassword("correct horse");
    expect(await verifyPassword("correct horse", hash)).toBe(true);
    expect(await verifyPassword("correct horsE", hash)).toBe(false);
    expect(await verifyPassword("correct horse ", hash)).toBe(false);
    expect(await verifyPassword("", hash)).toBe(false);
  });

  it("verifies non-ASCII passwords by their UTF-8 bytes", async () => {
    const hash = await hashPassword("パスワード🔑");
    expect(await verifyPassword("パスワード🔑", hash)).toBe(true);
    expect(await verifyPassword("パスワード", hash)).toBe(false);
  });

  it("verifies the hashes the demo seed (scripts/seed/) writes for the demo accounts", async () => {
    expect(await verifyPassword("password123", SEED_TEST_USER_HASH)).toBe(true);
    expect(await verifyPassword("admin123", SEED_ADMIN_HASH)).toBe(true);
    expect(await verifyPassword("password124", SEED_TEST_USER_HASH)).toBe(false);
    expect(await verifyPassword("admin123", SEED_TEST_USER_HASH)).toBe(false);
  });

  it("agrees byte for byte with the seed's format: the same salt rule gives the same string", async () => {
    expect(await pbkdf2Hash("password123", await seedSaltFor("test@example.com"), 100_000)).toBe(SEED_TEST_USER_HASH);
  });

  it("checks hashes made with fewer iterations (parameters travel with each hash)", async () => {
    const older = await pbkdf2Hash("old password", crypto.getRandomValues(new Uint8Array(16)), 10_000);
    expect(await verifyPassword("old password", older)).toBe(true);
    expect(await verifyPassword("new password", older)).toBe(false);
  });

  it.each([
    ["an empty string", ""],
    ["another scheme", SEED_TEST_USER_HASH.replace("pbkdf2-sha256", "pbkdf2-sha512")],
    ["a bcrypt hash", "$2b$12$abcdefghijklmnopqrstuuJ3xQpM5x4l4X8m6sXk7J0dU0ZyqJ3y"],
    ["too few parts", "pbkdf2-sha256$100000$tcpWD0hebHmQwiam9O2D+A=="],
    ["too many parts", `${SEED_TEST_USER_HASH}$extra`],
    ["zero iterations", SEED_TEST_USER_HASH.replace("$100000$", "$0$")],
    ["negative iterations", SEED_TEST_USER_HASH.replace("$100000$", "$-1$")],
    ["iterations in exponent form", SEED_TEST_USER_HASH.replace("$100000$", "$1e5$")],
    ["fractional iterations", SEED_TEST_USER_HASH.replace("$100000$", "$99999.5$")],
    ["a salt that is not base64", SEED_TEST_USER_HASH.replace("tcpWD0hebHmQwiam9O2D+A==", "not*base64!!")],
    ["a too short salt", SEED_TEST_USER_HASH.replace("tcpWD0hebHmQwiam9O2D+A==", "AAAA")],
    ["a truncated key", SEED_TEST_USER_HASH.slice(0, -12)],
    ["an empty key", SEED_TEST_USER_HASH.replace(/\$[^$]+$/, "$")],
  ])("refuses %s without throwing", async (_what, hash) => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    await expect(verifyPassword("password123", hash)).resolves.toBe(false);
  });
});

describe("verifyPasswordOfUnknownAccount", () => {
  it("answers false, for any password", async () => {
    expect(await verifyPasswordOfUnknownAccount("password123")).toBe(false);
    expect(await verifyPasswordOfUnknownAccount("")).toBe(false);
  });

  it("does the same work as checking a real account: one PBKDF2 at the current iteration count", async () => {
    const deriveBits = vi.spyOn(crypto.subtle, "deriveBits");
    await verifyPasswordOfUnknownAccount("password123");
    expect(deriveBits).toHaveBeenCalledTimes(1);
    const [params, , length] = deriveBits.mock.calls[0]!;
    expect(params).toMatchObject({ name: "PBKDF2", hash: "SHA-256", iterations: PASSWORD_HASH_ITERATIONS });
    expect(length).toBe(256);
  });
});

describe("the password gate (password-gate.ts)", () => {
  it("is where every derivation waits: hashing, verifying and the unknown-account check are all refused while it is full", async () => {
    const hash = await hashPassword("correct horse");
    passwordGate.limits = { ...PASSWORD_GATE_LIMITS, maxWaiting: 0, holdMs: 60_000 };
    let release!: () => void;
    const holder = passwordGate.run(() => new Promise<void>((resolve) => (release = resolve)));
    const deriveBits = vi.spyOn(crypto.subtle, "deriveBits");
    for (const attempt of [hashPassword("x"), verifyPassword("correct horse", hash), verifyPasswordOfUnknownAccount("x")]) {
      await expect(attempt).rejects.toMatchObject({ status: 503, code: "service_unavailable" });
    }
    expect(deriveBits).not.toHaveBeenCalled();
    release();
    await holder;
    expect(await verifyPassword("correct horse", hash)).toBe(true);
  });

  it("still refuses a malformed hash at once, without waiting for a turn", async () => {
    passwordGate.limits = { ...PASSWORD_GATE_LIMITS, maxWaiting: 0, holdMs: 60_000 };
    let release!: () => void;
    const holder = passwordGate.run(() => new Promise<void>((resolve) => (release = resolve)));
    await expect(verifyPassword("password123", "not a hash")).resolves.toBe(false);
    release();
    await holder;
  });
});
