/**
 * The demo data every local stack has (docs/api.md, "Local development defaults"), as plain values:
 * 10,000 products in 20 categories, the test and admin accounts plus user1..user1000, and 5,000 past
 * orders. Nothing here touches a database (scripts/seed/loader.ts writes these rows); the load tools
 * (load/demo.ts) take their accounts and search words from here.
 *
 * Deterministic: every value comes from fixed word lists, fixed base dates and seeded mulberry32
 * generators (one per table, so changing the order count does not reshuffle the catalog). No
 * Math.random, no clock: two machines seeding the same counts get byte-identical rows, which load
 * tests and examples rely on (e.g. "product 42 costs X"). Money is handled in integer cents and
 * rendered as "12.99" strings, so no total ever goes through a float.
 */
import { createHash } from "node:crypto";

/** The account the FastAPI original's Locust file logs in with. */
export const TEST_USER = { email: "test@example.com", password: "password123", fullName: "Test User", isAdmin: false };
/** The published admin account (a database not on this machine gets another password: scripts/seed/loader.ts). */
export const ADMIN_USER = { email: "admin@example.com", password: "admin123", fullName: "Admin User", isAdmin: true };
/** The password of user1..userN@example.com. */
export const NUMBERED_USER_PASSWORD = "password123";

/** How much demo data `npm start` loads: userN accounts besides the test and admin ones, products, past orders. */
export const DEMO_COUNTS = { users: 1_000, products: 10_000, orders: 5_000 } as const;

const SALT_BYTES = 16;

// All dates are fixed so the data never depend on when the seed ran; everything ends before
// 2026-11-01 so "newest first" listings are stable against orders placed during a demo.
const USERS_FROM = Date.UTC(2025, 0, 1);
const PRODUCTS_FROM = Date.UTC(2025, 0, 1);
const ORDERS_FROM = Date.UTC(2026, 0, 1);
const ORDERS_UNTIL = Date.UTC(2026, 9, 29); // leaves room for a cancellation up to 48 h later
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A per-user salt that is the same on every machine: real accounts get random salts, demo ones must not. */
export function demoSaltFor(email: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(`tenpo-demo-salt:${email}`).digest().subarray(0, SALT_BYTES));
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
  "Classic",
  "Modern",
  "Premium",
  "Compact",
  "Deluxe",
  "Essential",
  "Vintage",
  "Urban",
  "Rustic",
  "Sleek",
  "Ultra",
  "Everyday",
  "Pro",
  "Eco",
  "Smart",
  "Heritage",
  "Nordic",
  "Ergonomic",
  "Lightweight",
  "Signature",
] as const;

// "100% Cotton" puts a literal % into some names: search must treat it as a character, not a wildcard.
const FEATURES = [
  "Wireless",
  "Bamboo",
  "Stainless Steel",
  "Leather",
  "100% Cotton",
  "Ceramic",
  "Portable",
  "Organic",
  "Waterproof",
  "Wooden",
  "Glass",
  "Wool",
  "Carbon",
  "Solar",
  "Foldable",
  "Rechargeable",
  "Linen",
  "Copper",
  "Silicone",
  "Recycled",
] as const;

// A few names carry a suffix in another case, so a case-insensitive search is actually exercised.
const SUFFIXES = [
  " - classic edition",
  " (WIRELESS)",
  " 2-Pack",
  " Gift Set",
  " Mini",
  " XL",
  " (limited edition)",
  " wireless-ready",
] as const;

const FIRST_NAMES = [
  "Ava",
  "Liam",
  "Mia",
  "Noah",
  "Emma",
  "Lucas",
  "Sofia",
  "Ethan",
  "Hana",
  "Kenji",
  "Yuki",
  "Omar",
  "Lena",
  "Mateo",
  "Zoe",
  "Ravi",
] as const;
const LAST_NAMES = [
  "Smith",
  "Tanaka",
  "Garcia",
  "Muller",
  "Rossi",
  "Kim",
  "Nguyen",
  "Silva",
  "Martin",
  "Khan",
  "Sato",
  "Novak",
  "Dubois",
  "Ito",
  "Jensen",
  "Lopez",
] as const;

export interface ProductRow {
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

export interface UserSpec {
  id: number;
  email: string;
  password: string;
  fullName: string;
  isAdmin: boolean;
  createdAt: string;
}

export function buildDemoUsers(numbered: number, adminPassword: string = ADMIN_USER.password): UserSpec[] {
  const rng = mulberry32(0x05e125);
  const fixed = [TEST_USER, { ...ADMIN_USER, password: adminPassword }].map((u, i) => ({
    ...u,
    id: i + 1,
    createdAt: iso(USERS_FROM - (2 - i) * 24 * HOUR),
  }));
  const others = Array.from(
    { length: numbered },
    (_, i): UserSpec => ({
      id: i + 3,
      email: `user${i + 1}@example.com`,
      password: NUMBERED_USER_PASSWORD,
      fullName: `${pick(rng, FIRST_NAMES)} ${pick(rng, LAST_NAMES)}`,
      isAdmin: false,
      createdAt: iso(USERS_FROM + i * 5 * HOUR + intBetween(rng, 0, 5 * 3600 - 1) * 1000),
    }),
  );
  return [...fixed, ...others];
}

export interface OrderRow {
  id: number;
  userId: number;
  status: "confirmed" | "cancelled";
  totalCents: number;
  createdAt: string;
  cancelledAt: string | null;
}

export interface OrderItemRow {
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
export function buildDemoOrders(
  count: number,
  products: readonly ProductRow[],
  numberedUsers: number,
): { orders: OrderRow[]; items: OrderItemRow[] } {
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

/**
 * Words and fragments of the product names above, for the load tools' searches (`q=`): each one matches
 * some seeded product, whatever its case (test/scripts/seed.node.test.ts checks).
 */
export const DEMO_SEARCH_TERMS = [
  "wireless",
  "classic",
  "bamboo",
  "leather",
  "cotton",
  "ceramic",
  "portable",
  "organic",
  "waterproof",
  "wooden",
  "glass",
  "wool",
  "carbon",
  "solar",
  "foldable",
  "rechargeable",
  "linen",
  "copper",
  "silicone",
  "recycled",
  "modern",
  "premium",
  "compact",
  "deluxe",
  "essential",
  "vintage",
  "urban",
  "rustic",
  "sleek",
  "ultra",
  "everyday",
  "pro",
  "eco",
  "smart",
  "heritage",
  "nordic",
  "ergonomic",
  "lightweight",
  "signature",
  "lamp",
  "mug",
  "tent",
  "kite",
  "drill",
  "guitar",
  "honey",
  "scarf",
  "boots",
  "ring",
  "leash",
] as const;
