/**
 * The demo data every local stack has (docs/api.md, "Local development defaults"), as the load tools
 * use it: accounts, product ids, and words that occur in product names. The values are the seed's
 * (scripts/seed/data.ts), so the load tools and the database cannot drift apart.
 */
import { DEMO_COUNTS, DEMO_SEARCH_TERMS, NUMBERED_USER_PASSWORD, TEST_USER } from "../scripts/seed/data";

export const DEMO_PASSWORD = NUMBERED_USER_PASSWORD;
/** The one account the FastAPI original's Locust file logs in with. */
export const CHAPTER_USER = TEST_USER.email;
export const NUMBERED_USERS = DEMO_COUNTS.users;
export const PRODUCT_COUNT = DEMO_COUNTS.products;

/** user1..user1000@example.com, round robin from index 0. */
export function numberedUser(index: number): string {
  return `user${(index % NUMBERED_USERS) + 1}@example.com`;
}

/** Words and fragments found in the seeded product names: every search matches something. */
export const SEARCH_TERMS = DEMO_SEARCH_TERMS;

/** An integer in [min, max], both inclusive. */
export function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)]!;
}
