import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { users } from "../db/schema";
import { ApiError } from "../errors";
import type { UserBody } from "../schemas/auth";
import type { LoginAttempt, LoginThrottle } from "./login-throttle";
import { hashPassword, verifyPassword, verifyPasswordOfUnknownAccount } from "./passwords";
import type { RegisterThrottle } from "./register-throttle";
import type { AuthenticatedUser } from "../lib/access-token";

/** Accounts: registration and password login (both throttled), and reading the account a token stands for. */

/** A registration request, and the client it comes from (see throttle-keys.ts `clientKeyFor`). */
export type Registration = { email: string; password: string; fullName?: string | null; client: string };

/** An account whose password was just checked, and the version its new token must carry. */
export type SignedIn = { user: UserBody; tokenVersion: number };

const EMAIL_UNIQUE_INDEX = "users_email_lower_key";

// The columns a user may see of their account; the password hash is never among them.
const publicColumns = {
  id: users.id,
  email: users.email,
  fullName: users.fullName,
  isAdmin: users.isAdmin,
  createdAt: users.createdAt,
};
type PublicRow = { id: number; email: string; fullName: string | null; isAdmin: boolean; createdAt: Date };

/**
 * Creates a customer account. Only email, password and name are taken from the caller: `is_admin` is
 * never set here, whatever the request carried. A taken email (in any case) is found by the unique
 * index on lower(email), so two racing registrations cannot both succeed. Throttled per client before
 * the hash, and in the 409s it may answer (429 past either, see register-throttle.ts).
 */
export async function registerUser(db: Database, throttle: RegisterThrottle, registration: Registration): Promise<UserBody> {
  const check = await throttle.begin(registration.client);
  const passwordHash = await hashPassword(registration.password);
  try {
    const [row] = await db
      .insert(users)
      .values({ email: normalizeEmail(registration.email), passwordHash, fullName: registration.fullName || null })
      .returning(publicColumns);
    return toUserBody(row!);
  } catch (err) {
    if (isUniqueViolation(err, EMAIL_UNIQUE_INDEX)) {
      await check.taken();
      throw new ApiError(409, "email_taken", "An account with this email already exists");
    }
    throw err;
  }
}

/**
 * The account whose email and password these are, or null. An unknown email costs a password check
 * too, so the answer takes as long as for a known email with a wrong password.
 */
export async function authenticate(db: Database, email: string, password: string): Promise<SignedIn | null> {
  const [row] = await db
    .select({ ...publicColumns, passwordHash: users.passwordHash, tokenVersion: users.tokenVersion })
    .from(users)
    .where(sql`lower(${users.email}) = ${normalizeEmail(email)}`)
    .limit(1);
  if (!row) return verifyPasswordOfUnknownAccount(password).then(() => null);
  const { passwordHash, tokenVersion, ...account } = row;
  return (await verifyPassword(password, passwordHash)) ? { user: toUserBody(account), tokenVersion } : null;
}

/**
 * A login attempt: 401 for a wrong email or password, counted as a failure; 429 while this client is
 * throttled on this account, even with the right password, and for a wrong guess past the limit (the
 * answer never tells right from wrong then). See login-throttle.ts.
 */
export async function logIn(db: Database, throttle: LoginThrottle, attempt: LoginAttempt & { password: string }): Promise<SignedIn> {
  const who: LoginAttempt = { email: normalizeEmail(attempt.email), client: attempt.client };
  const check = await throttle.begin(who);
  const user = await authenticate(db, who.email, attempt.password);
  if (!user) {
    await check.failed();
    // One answer for an unknown email and a wrong password, so it does not tell which accounts exist.
    throw new ApiError(401, "invalid_credentials", "Incorrect email or password");
  }
  await check.succeeded();
  return user;
}

/**
 * The account a valid token names, as it is now, or null when the token no longer stands for it: the
 * account is gone, or its tokens were revoked (token_version raised) after this one was issued.
 */
export async function getTokenAccount(db: Database, holder: AuthenticatedUser): Promise<UserBody | null> {
  const [row] = await db
    .select(publicColumns)
    .from(users)
    .where(and(eq(users.id, holder.id), eq(users.tokenVersion, holder.tokenVersion)));
  return row ? toUserBody(row) : null;
}

/** Emails are compared case-insensitively, as lower(email) is unique; they are stored lower-cased too. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function toUserBody(row: PublicRow): UserBody {
  return {
    id: row.id,
    email: row.email,
    full_name: row.fullName,
    is_admin: row.isAdmin,
    created_at: row.createdAt.toISOString(),
  };
}

/** A Postgres unique violation (23505) of `constraint`, wherever drizzle wrapped the driver's error. */
function isUniqueViolation(err: unknown, constraint: string): boolean {
  for (let cause = err, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    const { code, constraint: violated } = cause as Error & { code?: unknown; constraint?: unknown };
    if (code === "23505") return violated === undefined || violated === constraint;
  }
  return false;
}
