/**
 * The demo data every local stack has (shared/spec/api-v1.md, "Local development defaults"), as the
 * load tools use it: accounts, product ids, and words that occur in product names.
 */
export const DEMO_PASSWORD = "password123";
/** The one account the chapter's Locust file logs in with. */
export const CHAPTER_USER = "test@example.com";
export const NUMBERED_USERS = 1000;
export const PRODUCT_COUNT = 10_000;

/** user1..user1000@example.com, round robin from index 0. */
export function numberedUser(index: number): string {
  return `user${(index % NUMBERED_USERS) + 1}@example.com`;
}

/** Words and fragments found in the seeded product names (scripts/seed.ts): every search matches something. */
export const SEARCH_TERMS = [
  "wireless", "classic", "bamboo", "leather", "cotton", "ceramic", "portable", "organic", "waterproof", "wooden",
  "glass", "wool", "carbon", "solar", "foldable", "rechargeable", "linen", "copper", "silicone", "recycled",
  "modern", "premium", "compact", "deluxe", "essential", "vintage", "urban", "rustic", "sleek", "ultra",
  "everyday", "pro", "eco", "smart", "heritage", "nordic", "ergonomic", "lightweight", "signature", "lamp",
  "mug", "tent", "kite", "drill", "guitar", "honey", "scarf", "boots", "ring", "leash",
] as const;

/** An integer in [min, max], both inclusive. */
export function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}
