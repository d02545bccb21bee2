import { log } from "../observability/logging";
import { passwordGate } from "./password-gate";
import { derivePasswordKey, formatPasswordHash, PASSWORD_HASH_ITERATIONS, PASSWORD_HASH_SCHEME, PASSWORD_KEY_BYTES } from "./password-hash";

export { PASSWORD_HASH_ITERATIONS };

/**
 * Password hashes: PBKDF2-HMAC-SHA256 through WebCrypto, stored as
 * `pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>` (password-hash.ts, which the demo seed writes through too).
 * The parameters travel with each hash, so they can be raised later without invalidating old hashes.
 *
 * Every derivation waits for its turn at this isolate's password gate (password-gate.ts): a hash holds
 * the isolate's thread, so a burst of logins must not make every other request wait behind all of it.
 * When too many are waiting, these functions throw 503 `service_unavailable` (ApiError) instead.
 */

/**
 * Deployed Workers refuse PBKDF2 with more than 100,000 iterations (local workerd accepts any number),
 * so this is both the value we hash with and a hard ceiling for the hashes we agree to verify.
 */
export const MAX_PBKDF2_ITERATIONS = 100_000;

const SALT_BYTES = 16;
const KEY_BYTES = PASSWORD_KEY_BYTES;
// What a stored hash may use; anything else is a corrupt or hostile row, refused without deriving.
// The key is always the full 32 bytes: a truncated one would still match a prefix of the derived key.
const STORED_SALT_BYTES = { min: 16, max: 64 };

/**
 * A hash of a random password nobody knows, with the current parameters. Checking a password against it
 * costs what checking a real account costs, so an unknown email answers no faster than a wrong password.
 */
const UNKNOWN_ACCOUNT_HASH = "pbkdf2-sha256$100000$IkWAgHEyaToJGLFyX8HQ2A==$mFj+y0icuoFz9AoG86lS2ngY+kcRm8hRQi65fdxkYKA=";

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const key = await deriveKey(password, salt, PASSWORD_HASH_ITERATIONS, KEY_BYTES);
  return formatPasswordHash(PASSWORD_HASH_ITERATIONS, salt, key);
}

/**
 * Whether `password` matches `storedHash`. A hash that is malformed or asks for more iterations than
 * Workers allow is refused (false) without deriving anything: it could never be checked in production.
 */
export async function verifyPassword(password: string, storedHash: string): Promise<boolean> {
  const parsed = parseStoredHash(storedHash);
  if (!parsed) return false;
  const derived = await deriveKey(password, parsed.salt, parsed.iterations, KEY_BYTES);
  return crypto.subtle.timingSafeEqual(derived, parsed.key);
}

/** Spends the time of one password check and answers false: the path for an email with no account. */
export async function verifyPasswordOfUnknownAccount(password: string): Promise<false> {
  await verifyPassword(password, UNKNOWN_ACCOUNT_HASH);
  return false;
}

type StoredHash = { iterations: number; salt: Uint8Array; key: Uint8Array };

function parseStoredHash(storedHash: string): StoredHash | null {
  const parts = storedHash.split("$");
  if (parts.length !== 4 || parts[0] !== PASSWORD_HASH_SCHEME) return null;
  const [, iterationsText, saltText, keyText] = parts as [string, string, string, string];
  if (!/^[1-9][0-9]{0,9}$/.test(iterationsText)) return null;
  const iterations = Number(iterationsText);
  if (iterations > MAX_PBKDF2_ITERATIONS) {
    log("error", "password hash refused: more PBKDF2 iterations than Workers allow", {
      iterations,
      max: MAX_PBKDF2_ITERATIONS,
    });
    return null;
  }
  const salt = fromBase64(saltText);
  const key = fromBase64(keyText);
  if (!salt || salt.byteLength < STORED_SALT_BYTES.min || salt.byteLength > STORED_SALT_BYTES.max) return null;
  if (!key || key.byteLength !== KEY_BYTES) return null;
  return { iterations, salt, key };
}

function deriveKey(password: string, salt: Uint8Array, iterations: number, keyBytes: number): Promise<Uint8Array> {
  return passwordGate.run(() => derivePasswordKey(password, salt, iterations, keyBytes));
}

/** Standard base64 with padding, as Node's Buffer and `btoa` write it; null for anything else. */
function fromBase64(text: string): Uint8Array | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return null;
  const binary = atob(text);
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
