import { sql, type SQL } from "drizzle-orm";

/**
 * Account changes an operator makes, outside the HTTP API (`npm run user:revoke` and `npm run
 * user:delete`, scripts/users.ts): revoking every token of an account, and deleting an account.
 *
 * Both work on drizzle over SQL-over-HTTP (the Worker, the tests) or over TCP (the scripts), so they
 * only ask for raw statements and find the account by its email as login does (any case, trimmed).
 */

/** What these functions need of a database: a statement and the rows it returns (typed by each statement). */
export type StatementRunner = { execute(query: SQL): PromiseLike<{ rows: unknown[] }> };

const accountWithEmail = (email: string) => sql`lower(u.email) = ${email.trim().toLowerCase()}`;

/**
 * Revokes every token the account has been issued: its token version goes up by one, so each token
 * signed before (they carry the old version) is refused with 401 from the next request on, the
 * orders SQL included. Logging in again issues a token of the new version. Null when no account has
 * this email.
 */
export async function revokeTokens(db: StatementRunner, email: string): Promise<{ id: number; tokenVersion: number } | null> {
  const { rows } = await db.execute(sql`
    update users u set token_version = u.token_version + 1
    where ${accountWithEmail(email)}
    returning u.id, u.token_version
  `);
  const row = rows[0] as { id: number; token_version: number } | undefined;
  return row ? { id: row.id, tokenVersion: row.token_version } : null;
}

/**
 * What deleting an account did. Orders are the shop's records and reference their account, so:
 *  - `deleted`: the account had no orders; its row is gone (its Idempotency-Key records with it);
 *  - `anonymised`: it has orders, which stay; the row keeps only its id. The email becomes
 *    `deleted-<id>@deleted.invalid` (free for a new registration; `.invalid` is never delivered),
 *    the name goes, the password hash becomes one no password matches, the admin role goes, and the
 *    token version goes up, so every token it was issued is refused.
 */
export type AccountDeletion = { id: number; outcome: "deleted" | "anonymised" };

/** The placeholder of an anonymised account's password hash: not the pbkdf2 format, so it matches nothing. */
export const NO_PASSWORD_HASH = "!";

/**
 * Deletes the account with this email (see AccountDeletion), in one statement; null when there is
 * none. Either way its tokens stop working at once. An order placed by the account in the same
 * instant makes the statement fail on the orders' foreign key and change nothing: run it again.
 */
export async function deleteAccount(db: StatementRunner, email: string): Promise<AccountDeletion | null> {
  const { rows } = await db.execute(sql`
    with target as materialized (
      select u.id, exists (select 1 from orders o where o.user_id = u.id) as has_orders
      from users u
      where ${accountWithEmail(email)}
      for update of u
    ),
    deleted as (
      delete from users u using target t
      where u.id = t.id and not t.has_orders
      returning u.id
    ),
    anonymised as (
      update users u
      set email = 'deleted-' || u.id || '@deleted.invalid', full_name = null, password_hash = ${NO_PASSWORD_HASH},
        is_admin = false, token_version = u.token_version + 1
      from target t
      where u.id = t.id and t.has_orders
      returning u.id
    )
    select (select id from deleted) as deleted, (select id from anonymised) as anonymised
  `);
  const row = rows[0] as { deleted: number | null; anonymised: number | null } | undefined;
  if (row?.deleted != null) return { id: row.deleted, outcome: "deleted" };
  if (row?.anonymised != null) return { id: row.anonymised, outcome: "anonymised" };
  return null;
}
