/**
 * Account operations with no HTTP route (src/services/accounts.ts says what each does):
 *   npm run user:revoke -- <email>   # every token of the account stops working (401); logging in again works
 *   npm run user:delete -- <email>   # the account goes (anonymised instead when it has orders); its tokens with it
 * Over TCP, like `npm run db:migrate`: DATABASE_URL, or the local default (deployed: Neon's direct connection string).
 */
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { deleteAccount, revokeTokens, type StatementRunner } from "../src/services/accounts";
import { DEFAULT_DATABASE_URL, redact } from "./migrate";

const COMMANDS = {
  revoke: async (db: StatementRunner, email: string) => {
    const revoked = await revokeTokens(db, email);
    return revoked
      ? `revoked every token of account ${revoked.id}: tokens of version ${revoked.tokenVersion - 1} and older are refused`
      : null;
  },
  delete: async (db: StatementRunner, email: string) => {
    const deletion = await deleteAccount(db, email);
    if (!deletion) return null;
    return deletion.outcome === "deleted"
      ? `deleted account ${deletion.id} (it had no orders)`
      : `anonymised account ${deletion.id}: it has orders, which stay; its email, name, password and tokens are gone`;
  },
} as const;

type Command = keyof typeof COMMANDS;

async function main(argv: string[]): Promise<number> {
  const [command, email, ...rest] = argv;
  if (!command || !(command in COMMANDS) || !email || rest.length > 0) {
    console.error("usage: tsx scripts/users.ts revoke|delete <email>   (npm run user:revoke -- <email>, npm run user:delete -- <email>)");
    return 2;
  }
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const message = await COMMANDS[command as Command](drizzle({ client }), email);
    if (!message) {
      console.error(`no account with the email ${email} in ${redact(url)}`);
      return 1;
    }
    console.log(message);
    return 0;
  } finally {
    await client.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
