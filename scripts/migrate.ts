/**
 * Applies the drizzle-kit migrations in drizzle/ to a PostgreSQL reached over TCP (the local server,
 * the embedded PGlite socket, or Neon's direct connection string in deployment).
 *   npm run db:migrate                       # DATABASE_URL or the local default
 */
import { fileURLToPath } from "node:url";
import pg from "pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));
export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tenpo";

export async function migrateDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // Silence NOTICEs such as "extension pg_trgm already exists, skipping".
    client.on("notice", () => {});
    await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    await client.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const started = performance.now();
  migrateDatabase(url).then(
    () => console.log(`migrations applied to ${redact(url)} in ${Math.round(performance.now() - started)} ms`),
    (err: unknown) => {
      console.error(`migration failed for ${redact(url)}: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

/** A connection string without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
