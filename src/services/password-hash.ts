/**
 * The stored form of a password hash, `pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>`:
 * PBKDF2-HMAC-SHA256 over the UTF-8 password, a 32-byte key, standard base64 with padding. Only
 * WebCrypto, so the Worker (passwords.ts) and Node tools (the demo seed, scripts/seed/) write the
 * same strings with the same code.
 */

export const PASSWORD_HASH_SCHEME = "pbkdf2-sha256";
/** What new hashes use; deployed Workers allow at most 100,000 (passwords.ts checks stored ones against that). */
export const PASSWORD_HASH_ITERATIONS = 100_000;
export const PASSWORD_KEY_BYTES = 32;

const utf8 = new TextEncoder();

/** PBKDF2-HMAC-SHA256 of the UTF-8 `password`: `keyBytes` bytes. */
export async function derivePasswordKey(password: string, salt: Uint8Array, iterations: number, keyBytes: number): Promise<Uint8Array> {
  const material = await crypto.subtle.importKey("raw", utf8.encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, keyBytes * 8);
  return new Uint8Array(bits);
}

/** The stored string for a key derived with these parameters. */
export function formatPasswordHash(iterations: number, salt: Uint8Array, key: Uint8Array): string {
  return [PASSWORD_HASH_SCHEME, iterations, toBase64(salt), toBase64(key)].join("$");
}

/**
 * The stored hash of `password` with a salt the caller chose, for tools outside the Worker (the demo
 * seed gives each demo account a fixed salt, so every machine gets the same rows). It derives at once:
 * the Worker's own hashes take their turn at its password gate instead (passwords.ts).
 */
export async function hashPasswordWithSalt(
  password: string,
  salt: Uint8Array,
  iterations: number = PASSWORD_HASH_ITERATIONS,
): Promise<string> {
  return formatPasswordHash(iterations, salt, await derivePasswordKey(password, salt, iterations, PASSWORD_KEY_BYTES));
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
