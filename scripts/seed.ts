/**
 * Demo data for local development (spec "Local development defaults"): 10,000 products in 20
 * categories, the test and admin accounts plus user1..user1000, and 5,000 past orders.
 *
 * Why it looks the way it does:
 * - Deterministic: every value comes from fixed word lists, fixed base dates and seeded mulberry32
 *   generators (one per table, so changing the order count does not reshuffle the catalog). No
 *   Math.random, no clock: two machines seeding the same counts get byte-identical rows, which load
 *   tests and examples rely on (e.g. "product 42 costs X").
 * - Loaded once: if products already has rows nothing happens. The check is repeated under a table
 *   lock inside the seeding transaction, so two processes starting at once cannot both seed.
 * - One transaction: a crash half-way leaves an empty database that the next start seeds again.
 * - Fast: passwords are hashed (PBKDF2, the expensive part) before the transaction opens, with as
 *   many hashes in flight as there are cores; rows go in as chunked `INSERT ... SELECT FROM unnest()`,
 *   a handful of statements in all. Money is handled in integer cents and rendered as "12.99"
 *   strings, so no total ever goes through a float.
 *
 * - Local only, unless told: every demo password is in this repository and in the contract, so a
 *   database that is not on this machine (a loopback host or a unix socket) is refused unless
 *   `allowRemote` (`--allow-remote`, TENPO_SEED_ALLOW_REMOTE=1) says so. Even then the admin does not
 *   get the published password: SEED_ADMIN_PASSWORD, or a generated one that is shown once. (The other
 *   demo accounts keep theirs: load tests log in with them, and they have no admin rights.)
 *
 * Run directly: `npx tsx scripts/seed.ts [--allow-remote]` (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/tenpo; the database must already be migrated: `npm run db:migrate`).
 */
import { createHash, pbkdf2, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { isLocalConnectionString } from "../src/lib/loopback";

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

export const DEMO_PASSWORD_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const CHUNK_ROWS = 1_000;

const TEST_USER = { email: "test@example.com", password: "password123", fullName: "Test User", isAdmin: false };
const ADMIN_USER = { email: "admin@example.com", password: "admin123", fullName: "Admin User", isAdmin: true };
const NUMBERED_USER_PASSWORD = "password123";
/** 18 random bytes: a 24-character base64url password, beyond guessing and still typeable. */
const GENERATED_PASSWORD_BYTES = 18;

// All dates are fixed so the data never depend on when the seed ran; everything ends before
// 2026-11-01 so "newest first" listings are stable against orders placed during a demo.
const USERS_FROM = Date.UTC(2025, 0, 1);
const PRODUCTS_FROM = Date.UTC(2025, 0, 1);
const ORDERS_FROM = Date.UTC(2026, 0, 1);
const ORDERS_UNTIL = Date.UTC(2026, 9, 29); // leaves room for a cancellation up to 48 h later
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

// ---------------------------------------------------------------------------------------------
// Password hashes: the format the Worker verifies with WebCrypto.
// ---------------------------------------------------------------------------------------------

/**
 * `pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>`: PBKDF2-HMAC-SHA256 over the UTF-8
 * password, 32-byte key, standard base64 with padding (what `btoa` produces in the Worker).
 */
export function hashPasswordForSeed(
  password: string,
  salt: Uint8Array,
  iterations: number = DEMO_PASSWORD_ITERATIONS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, KEY_BYTES, "sha256", (err, key) => {
      if (err) return reject(err);
      const saltB64 = Buffer.from(salt).toString("base64");
      resolve(`pbkdf2-sha256$${iterations}$${saltB64}$${key.toString("base64")}`);
    });
  });
}

/** A per-user salt that is the same on every machine: real accounts get random salts, demo ones must not. */
export function demoSaltFor(email: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(`tenpo-demo-salt:${email}`).digest().subarray(0, SALT_BYTES));
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

// ---------------------------------------------------------------------------------------------
// Deterministic generators
// ---------------------------------------------------------------------------------------------

type Rng = () => number;

/** mulberry32: tiny, fast, good enough for demo data, and identical on every JS engine. */
function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const intBetween = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

/** Integer cents to the API's money string: 1299 -> "12.99". */
export function centsToMoney(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

// Each category has nouns that belong in it; adjectives and materials/features are shared, so that
// searches like q=wireless or q=classic cut across the whole catalog.
const CATEGORIES: ReadonlyArray<readonly [category: string, nouns: readonly string[]]> = [
  ["electronics", ["Headphones", "Speaker", "Charger", "Keyboard", "Mouse", "Earbuds"]],
  ["kitchen", ["Kettle", "Blender", "Knife Set", "Cutting Board", "Mug", "Frying Pan"]],
  ["home", ["Lamp", "Pillow", "Blanket", "Wall Clock", "Vase", "Rug"]],
  ["garden", ["Planter", "Garden Hose", "Pruner", "Watering Can", "Bird Feeder", "String Lights"]],
  ["sports", ["Yoga Mat", "Water Bottle", "Dumbbells", "Jump Rope", "Tennis Racket", "Football"]],
  ["outdoors", ["Tent", "Backpack", "Sleeping Bag", "Lantern", "Camping Chair", "Hammock"]],
  ["toys", ["Puzzle", "Building Blocks", "Robot", "Kite", "Plush Bear", "Race Car"]],
  ["books", ["Cookbook", "Novel", "Atlas", "Journal", "Sketchbook", "Planner"]],
  ["beauty", ["Hair Dryer", "Hair Brush", "Makeup Mirror", "Face Mask", "Perfume", "Lip Balm"]],
  ["health", ["Thermometer", "Massager", "Bathroom Scale", "First Aid Kit", "Pill Organizer", "Heating Pad"]],
  ["fashion", ["Jacket", "Scarf", "Hoodie", "T-Shirt", "Hat", "Sunglasses"]],
  ["shoes", ["Sneakers", "Boots", "Sandals", "Loafers", "Slippers", "Running Shoes"]],
  ["jewelry", ["Necklace", "Bracelet", "Ring", "Earrings", "Watch", "Pendant"]],
  ["automotive", ["Car Charger", "Dash Cam", "Seat Cover", "Phone Mount", "Tire Inflator", "Floor Mats"]],
  ["tools", ["Drill", "Screwdriver Set", "Hammer", "Tape Measure", "Flashlight", "Tool Box"]],
  ["office", ["Desk Lamp", "Office Chair", "Pen Set", "Stapler", "Monitor Stand", "Desk Organizer"]],
  ["pets", ["Dog Bed", "Cat Tree", "Leash", "Pet Bowl", "Chew Toy", "Pet Carrier"]],
  ["baby", ["Stroller", "Baby Monitor", "Bottle Warmer", "Crib Mobile", "Diaper Bag", "High Chair"]],
  ["music", ["Guitar", "Ukulele", "Microphone", "Drum Pad", "Keyboard Stand", "Guitar Strap"]],
  ["grocery", ["Coffee Beans", "Green Tea", "Olive Oil", "Honey", "Granola", "Dark Chocolate"]],
];

const ADJECTIVES = [
  "Classic", "Modern", "Premium", "Compact", "Deluxe", "Essential", "Vintage", "Urban", "Rustic", "Sleek",
  "Ultra", "Everyday", "Pro", "Eco", "Smart", "Heritage", "Nordic", "Ergonomic", "Lightweight", "Signature",
] as const;

// "100% Cotton" puts a literal % into some names: search must treat it as a character, not a wildcard.
const FEATURES = [
  "Wireless", "Bamboo", "Stainless Steel", "Leather", "100% Cotton", "Ceramic", "Portable", "Organic", "Waterproof",
  "Wooden", "Glass", "Wool", "Carbon", "Solar", "Foldable", "Rechargeable", "Linen", "Copper", "Silicone", "Recycled",
] as const;

// A few names carry a suffix in another case, so a case-insensitive search is actually exercised.
const SUFFIXES = [" - classic edition", " (WIRELESS)", " 2-Pack", " Gift Set", " Mini", " XL", " (limited edition)", " wireless-ready"] as const;

const FIRST_NAMES = ["Ava", "Liam", "Mia", "Noah", "Emma", "Lucas", "Sofia", "Ethan", "Hana", "Kenji", "Yuki", "Omar", "Lena", "Mateo", "Zoe", "Ravi"] as const;
const LAST_NAMES = ["Smith", "Tanaka", "Garcia", "Muller", "Rossi", "Kim", "Nguyen", "Silva", "Martin", "Khan", "Sato", "Novak", "Dubois", "Ito", "Jensen", "Lopez"] as const;

interface ProductRow {
  id: number;
  name: string;
  description: string;
  category: string;
  priceCents: number;
  stock: number;
  createdAt: string;
}

const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
const withArticle = (word: string): string => `${/^[aeiou]/i.test(word) ? "an" : "a"} ${word}`;

function describeProduct(rng: Rng, adjective: string, feature: string, noun: string, category: string): string {
  const a = adjective.toLowerCase();
  const f = feature.toLowerCase();
  const n = noun.toLowerCase();
  switch (intBetween(rng, 0, 2)) {
    case 0:
      return `${capitalize(withArticle(a))} ${n} with ${withArticle(f)} finish. Built to last and easy to care for.`;
    case 1:
      return `Our ${a} ${f} ${n}, a favourite in ${category}.`;
    default:
      return `${feature} ${n} with ${withArticle(a)} look; ships in recyclable packaging.`;
  }
}

/** Skewed towards cheaper items, like a real catalog: a third under 100, median about 220, up to 999.99. */
function demoPriceCents(rng: Rng): number {
  const dollars = 1 + Math.floor(rng() ** 2.2 * 999); // 1..999
  const cents = pick(rng, [99, 99, 99, 49, 95, 0, intBetween(rng, 0, 99)]);
  return dollars * 100 + cents;
}

export function buildDemoProducts(count: number): ProductRow[] {
  const rng = mulberry32(0x7e4e90);
  const rows: ProductRow[] = [];
  for (let id = 1; id <= count; id++) {
    const [category, nouns] = CATEGORIES[(id - 1) % CATEGORIES.length] ?? CATEGORIES[0]!;
    const adjective = pick(rng, ADJECTIVES);
    const feature = pick(rng, FEATURES);
    const noun = pick(rng, nouns);
    const suffix = rng() < 0.12 ? pick(rng, SUFFIXES) : "";
    rows.push({
      id,
      name: `${adjective} ${feature} ${noun}${suffix}`,
      description: describeProduct(rng, adjective, feature, noun, category),
      category,
      priceCents: demoPriceCents(rng),
      stock: intBetween(rng, 1_000, 5_000),
      createdAt: iso(PRODUCTS_FROM + (id - 1) * 50 * MINUTE + intBetween(rng, 0, 49 * 60) * 1000),
    });
  }
  return rows;
}

interface UserSpec {
  id: number;
  email: string;
  password: string;
  fullName: string;
  isAdmin: boolean;
  createdAt: string;
}

export function buildDemoUsers(numbered: number, adminPassword: string = ADMIN_USER.password): UserSpec[] {
  const rng = mulberry32(0x05e125);
  const fixed = [TEST_USER, { ...ADMIN_USER, password: adminPassword }].map((u, i) => ({ ...u, id: i + 1, createdAt: iso(USERS_FROM - (2 - i) * 24 * HOUR) }));
  const others = Array.from({ length: numbered }, (_, i): UserSpec => ({
    id: i + 3,
    email: `user${i + 1}@example.com`,
    password: NUMBERED_USER_PASSWORD,
    fullName: `${pick(rng, FIRST_NAMES)} ${pick(rng, LAST_NAMES)}`,
    isAdmin: false,
    createdAt: iso(USERS_FROM + i * 5 * HOUR + intBetween(rng, 0, 5 * 3600 - 1) * 1000),
  }));
  return [...fixed, ...others];
}

interface OrderRow {
  id: number;
  userId: number;
  status: "confirmed" | "cancelled";
  totalCents: number;
  createdAt: string;
  cancelledAt: string | null;
}

interface OrderItemRow {
  orderId: number;
  productId: number;
  quantity: number;
  unitPriceCents: number;
}

/** Every 1,000th past order belongs to test@example.com (5 of 5,000), so its order list is not empty. */
const TEST_USER_ORDER_EVERY = 1_000;

/**
 * Past orders. Their stock is deliberately NOT taken from the products: the catalog keeps the
 * generated 1,000-5,000 units, which is what load tests and examples assume.
 */
export function buildDemoOrders(count: number, products: readonly ProductRow[], numberedUsers: number): { orders: OrderRow[]; items: OrderItemRow[] } {
  if (count > 0 && products.length === 0) throw new Error("orders need products");
  const rng = mulberry32(0x0bde25);
  const orders: OrderRow[] = [];
  const items: OrderItemRow[] = [];
  const step = (ORDERS_UNTIL - ORDERS_FROM) / Math.max(count, 1);
  for (let id = 1; id <= count; id++) {
    const forTestUser = id % TEST_USER_ORDER_EVERY === 0 || numberedUsers === 0;
    const userId = forTestUser ? 1 : 3 + Math.floor(rng() * numberedUsers);
    const createdMs = Math.floor(ORDERS_FROM + (id - 1) * step + rng() * step);
    const lines = pick(rng, [1, 1, 1, 1, 2, 2, 2, 3, 3, 4]);
    const chosen = new Set<number>();
    while (chosen.size < Math.min(lines, products.length)) chosen.add(intBetween(rng, 1, products.length));
    let totalCents = 0;
    for (const productId of chosen) {
      const quantity = pick(rng, [1, 1, 1, 1, 1, 1, 1, 2, 2, 3]);
      const unitPriceCents = products[productId - 1]!.priceCents;
      totalCents += unitPriceCents * quantity; // integers well below 2^53: exact
      items.push({ orderId: id, productId, quantity, unitPriceCents });
    }
    const cancelled = rng() < 0.08;
    orders.push({
      id,
      userId,
      status: cancelled ? "cancelled" : "confirmed",
      totalCents,
      createdAt: iso(createdMs),
      cancelledAt: cancelled ? iso(createdMs + intBetween(rng, 1, 48) * HOUR) : null,
    });
  }
  return { orders, items };
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

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
  await client.query(
    `SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) FROM "${table}"`,
    [table],
  );
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
export type SeedPlan =
  | { refused: string }
  | { refused?: undefined; adminPassword: string; generated: boolean };

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
    const numbered = opts.users ?? 1_000;
    const products = buildDemoProducts(opts.products ?? 10_000);
    const users = buildDemoUsers(numbered, plan.adminPassword);
    const { orders, items } = buildDemoOrders(opts.orders ?? 5_000, products, numbered);
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
    onProgress(`seed: done in ${secondsSince(started)} s (${users.length} users, ${products.length} products, ${orders.length} orders, ${items.length} order items)`);
    return plan.generated ? { seeded: true, generatedAdminPassword: plan.adminPassword } : { seeded: true };
  } finally {
    await client.end();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/tenpo";
  const allowRemote = process.argv.includes("--allow-remote") || undefined;
  seedDemoData(url, { onProgress: (msg) => console.log(msg), allowRemote })
    .then(({ seeded, generatedAdminPassword }) => {
      if (!seeded) console.log("seed: products already present, nothing to do");
      if (generatedAdminPassword) console.log(`seed: admin@example.com's password is ${generatedAdminPassword} (generated, stored nowhere else: keep it now)`);
    })
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 1;
    });
}
