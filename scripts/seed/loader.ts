/**
 * Writes the demo data (scripts/seed/data.ts) into an already migrated database.
 *
 * - Loaded once: if products already has rows nothing happens. The check is repeated under a table
 *   lock inside the seeding transaction, so two processes starting at once cannot both seed.
 * - One transaction: a crash half-way leaves an empty database that the next start seeds again.
 * - Fast: passwords are hashed (PBKDF2, the expensive part) before the transaction opens, with as
 *   many hashes in flight as there are cores; rows go in as chunked `INSERT ... SELECT FROM unnest()`,
 *   a handful of statements in all.
 * - Local only, unless told: every demo password is in this repository and in the contract, so a
 *   database that is not on this machine (a loopback host or a unix socket) is refused unless
 *   `allowRemote` (`--allow-remote`, TENPO_SEED_ALLOW_REMOTE=1) says so. Even then the admin does not
 *   get the published password: SEED_ADMIN_PASSWORD, or a generated one that is shown once. (The other
 *   demo accounts keep theirs: load tests log in with them, and they have no admin rights.)
 */
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import pg from "pg";
import { isLocalConnectionString } from "../../src/lib/loopback";
import { hashPasswordWithSalt, PASSWORD_HASH_ITERATIONS } from "../../src/services/password-hash";
import {
  ADMIN_USER,
  buildDemoOrders,
  buildDemoProducts,
  buildDemoUsers,
  centsToMoney,
  DEMO_COUNTS,
  demoSaltFor,
  type OrderItemRow,
  type OrderRow,
  type ProductRow,
  type UserSpec,
} from "./data";

export interface SeedOptions {
  onProgress?: (msg: string) => void;
  /** How many userN@example.com accounts besides the test and admin accounts (default 1000). */
  users?: number;
  products?: number;
  orders?: number;
  /** Seed a database that is not on this machine (default: TENPO_SEED_ALLOW_REMOTE=1). */
  allowRemote?: boolean;
  /** The admin's password (default: SEED_ADMIN_PASSWORD; else the published one locally, a generated one remotely). */
  adminPassword?: string;
}

export interface SeedResult {
  seeded: boolean;
  /** Set when the admin's password was generated: it is stored nowhere else, so show it now. */
  generatedAdminPassword?: string;
}

/** The Worker's own iteration count (PASSWORD_HASH_ITERATIONS), so a demo login costs what a real one does. */
export const DEMO_PASSWORD_ITERATIONS = PASSWORD_HASH_ITERATIONS;
const CHUNK_ROWS = 1_000;
/** 18 random bytes: a 24-character base64url password, beyond guessing and still typeable. */
const GENERATED_PASSWORD_BYTES = 18;

/**
 * The stored hash the Worker verifies (src/services/password-hash.ts writes the format): PBKDF2-HMAC-SHA256
 * over the UTF-8 password, with the demo account's fixed salt (`demoSaltFor`).
 */
export function hashPasswordForSeed(password: string, salt: Uint8Array, iterations: number = DEMO_PASSWORD_ITERATIONS): Promise<string> {
  return hashPasswordWithSalt(password, salt, iterations);
}

/** Runs `task` for 0..count-1 with at most `limit` in flight; resolves with results in index order. */
async function mapWithConcurrency<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

type Column = { name: string; type: string };

/**
 * One statement per chunk: `INSERT ... SELECT * FROM unnest($1::int[], ...)` sends each column as
 * one array parameter, so the statement text stays constant whatever the chunk size.
 */
async function insertChunked(
  client: pg.ClientBase,
  table: string,
  columns: readonly Column[],
  rows: ReadonlyArray<readonly unknown[]>,
  progress: (done: number, total: number) => void,
): Promise<void> {
  const names = columns.map((c) => `"${c.name}"`).join(", ");
  const unnest = columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(", ");
  const text = `INSERT INTO "${table}" (${names}) SELECT * FROM unnest(${unnest})`;
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    const chunk = rows.slice(start, start + CHUNK_ROWS);
    const params = columns.map((_, col) => chunk.map((row) => row[col]));
    await client.query(text, params);
    progress(start + chunk.length, rows.length);
  }
}

async function resetIdentity(client: pg.ClientBase, table: string): Promise<void> {
  // is_called=false on an empty table so the first new row still gets id 1.
  await client.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM "${table}"`, [table]);
}

/** Fails with a clear message instead of a raw "relation does not exist" when migrations were not run. */
async function hasProducts(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ products: string | null }>("SELECT to_regclass('public.products')::text AS products");
  if (rows[0]?.products == null) throw new Error("seed: table products does not exist; run the migrations first (npm run db:migrate)");
  const found = await client.query("SELECT 1 FROM products LIMIT 1");
  return found.rowCount !== 0;
}

/** Explicit ids would collide with accounts or orders made before the demo data arrived. */
async function assertNoUsersOrOrders(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ users: boolean; orders: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM users) AS users, EXISTS (SELECT 1 FROM orders) AS orders",
  );
  if (rows[0]?.users || rows[0]?.orders) {
    throw new Error("seed: products is empty but users or orders already have rows; refusing to mix demo data into them");
  }
}

/** Reports at each 10 % step (and at the end), however the work is chunked. */
function progressReporter(onProgress: (msg: string) => void, label: string): (done: number, total: number) => void {
  let lastDecile = 0;
  return (done, total) => {
    const decile = Math.floor((done * 10) / Math.max(total, 1));
    if (decile > lastDecile || done === total) {
      onProgress(`seed: ${label} ${done}/${total}`);
      lastDecile = decile;
    }
  };
}

async function hashDemoPasswords(users: readonly UserSpec[], onProgress: (msg: string) => void): Promise<string[]> {
  const report = progressReporter(onProgress, "password hashes");
  let done = 0;
  // PBKDF2 runs on libuv's thread pool (4 threads by default); more in flight than cores only queues.
  const limit = Math.max(1, Math.min(availableParallelism(), 4));
  return mapWithConcurrency(users.length, limit, async (i) => {
    const user = users[i]!;
    const hash = await hashPasswordForSeed(user.password, demoSaltFor(user.email));
    report(++done, users.length);
    return hash;
  });
}

async function loadRows(
  client: pg.ClientBase,
  data: { products: ProductRow[]; users: UserSpec[]; hashes: string[]; orders: OrderRow[]; items: OrderItemRow[] },
  onProgress: (msg: string) => void,
): Promise<void> {
  await insertChunked(
    client,
    "users",
    [
      { name: "id", type: "int" },
      { name: "email", type: "text" },
      { name: "password_hash", type: "text" },
      { name: "full_name", type: "text" },
      { name: "is_admin", type: "boolean" },
      { name: "created_at", type: "timestamptz" },
    ],
    data.users.map((u, i) => [u.id, u.email, data.hashes[i], u.fullName, u.isAdmin, u.createdAt]),
    progressReporter(onProgress, "users"),
  );
  await insertChunked(
    client,
    "products",
    [
      { name: "id", type: "int" },
      { name: "name", type: "text" },
      { name: "description", type: "text" },
      { name: "category", type: "text" },
      { name: "price", type: "numeric" },
      { name: "stock", type: "int" },
      { name: "created_at", type: "timestamptz" },
      { name: "updated_at", type: "timestamptz" },
    ],
    data.products.map((p) => [p.id, p.name, p.description, p.category, centsToMoney(p.priceCents), p.stock, p.createdAt, p.createdAt]),
    progressReporter(onProgress, "products"),
  );
  await insertChunked(
    client,
    "orders",
    [
      { name: "id", type: "int" },
      { name: "user_id", type: "int" },
      { name: "status", type: "text" },
      { name: "total_amount", type: "numeric" },
      { name: "created_at", type: "timestamptz" },
      { name: "cancelled_at", type: "timestamptz" },
    ],
    data.orders.map((o) => [o.id, o.userId, o.status, centsToMoney(o.totalCents), o.createdAt, o.cancelledAt]),
    progressReporter(onProgress, "orders"),
  );
  await insertChunked(
    client,
    "order_items",
    [
      { name: "order_id", type: "int" },
      { name: "product_id", type: "int" },
      { name: "quantity", type: "int" },
      { name: "unit_price", type: "numeric" },
    ],
    data.items.map((it) => [it.orderId, it.productId, it.quantity, centsToMoney(it.unitPriceCents)]),
    progressReporter(onProgress, "order items"),
  );
}

/** Cheap guard for the invariant the API documents: total_amount = Σ unit_price × quantity. */
async function assertTotalsMatchItems(client: pg.ClientBase): Promise<void> {
  const { rows } = await client.query<{ bad: string }>(
    `SELECT count(*)::text AS bad FROM orders o
     LEFT JOIN (SELECT order_id, sum(unit_price * quantity) AS total FROM order_items GROUP BY order_id) s ON s.order_id = o.id
     WHERE s.total IS DISTINCT FROM o.total_amount`,
  );
  if (rows[0]?.bad !== "0") throw new Error(`seed: ${rows[0]?.bad} orders have a total that differs from their items`);
}

const secondsSince = (start: number): string => ((performance.now() - start) / 1000).toFixed(1);

/** What seeding `databaseUrl` would do, decided before anything connects: refuse, or which admin password. */
export type SeedPlan = { refused: string } | { refused?: undefined; adminPassword: string; generated: boolean };

/** The seed's rule for where it may write and which admin password it writes (`env`: process.env). */
export function planSeed(
  databaseUrl: string,
  opts: Pick<SeedOptions, "allowRemote" | "adminPassword">,
  env: Readonly<Record<string, string | undefined>>,
): SeedPlan {
  const local = isLocalConnectionString(databaseUrl);
  const allowRemote = opts.allowRemote ?? env.TENPO_SEED_ALLOW_REMOTE === "1";
  if (!local && !allowRemote) {
    return {
      refused:
        `seed: refusing ${hostOf(databaseUrl)}: not a database on this machine, and the demo accounts' passwords are public. ` +
        "Pass --allow-remote (or TENPO_SEED_ALLOW_REMOTE=1) to seed it anyway; the admin then gets SEED_ADMIN_PASSWORD or a generated password.",
    };
  }
  const given = opts.adminPassword ?? (env.SEED_ADMIN_PASSWORD || undefined);
  if (given !== undefined) return { adminPassword: given, generated: false };
  if (local) return { adminPassword: ADMIN_USER.password, generated: false };
  return { adminPassword: randomBytes(GENERATED_PASSWORD_BYTES).toString("base64url"), generated: true };
}

/** The host part of a connection string, for messages (never its password). */
function hostOf(databaseUrl: string): string {
  try {
    return new URL(databaseUrl).host || "(no host)";
  } catch {
    return "a connection string that is not a URL";
  }
}

/**
 * Loads the demo data into an already migrated, still empty database; does nothing (and returns
 * seeded: false) when products already has rows. Throws, before connecting, for a database that is not
 * on this machine unless remote seeding is allowed (`planSeed`).
 */
export async function seedDemoData(databaseUrl: string, opts: SeedOptions = {}): Promise<SeedResult> {
  const onProgress = opts.onProgress ?? (() => {});
  const plan = planSeed(databaseUrl, opts, process.env);
  if (plan.refused !== undefined) throw new Error(plan.refused);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // Checked before hashing, so an already seeded database costs one query, not 10 s of PBKDF2.
    if (await hasProducts(client)) return { seeded: false };

    const started = performance.now();
    const numbered = opts.users ?? DEMO_COUNTS.users;
    const products = buildDemoProducts(opts.products ?? DEMO_COUNTS.products);
    const users = buildDemoUsers(numbered, plan.adminPassword);
    const { orders, items } = buildDemoOrders(opts.orders ?? DEMO_COUNTS.orders, products, numbered);
    const hashes = await hashDemoPasswords(users, onProgress);
    onProgress(`seed: password hashes took ${secondsSince(started)} s`);

    await client.query("BEGIN");
    try {
      // Serialises concurrent seeders; the second one finds the rows and backs off.
      await client.query("LOCK TABLE products IN SHARE ROW EXCLUSIVE MODE");
      if (await hasProducts(client)) {
        await client.query("ROLLBACK");
        return { seeded: false };
      }
      await assertNoUsersOrOrders(client);
      await loadRows(client, { products, users, hashes, orders, items }, onProgress);
      for (const table of ["users", "products", "orders", "order_items"]) await resetIdentity(client, table);
      await assertTotalsMatchItems(client);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    }
    // VACUUM as well as ANALYZE: a freshly filled GIN index keeps new entries in its pending list
    // and the planner then prefers a sequential scan; after VACUUM, `q` is answered by the trigram index.
    await client.query("VACUUM (ANALYZE) users, products, orders, order_items");
    onProgress(
      `seed: done in ${secondsSince(started)} s (${users.length} users, ${products.length} products, ${orders.length} orders, ${items.length} order items)`,
    );
    return plan.generated ? { seeded: true, generatedAdminPassword: plan.adminPassword } : { seeded: true };
  } finally {
    await client.end();
  }
}
