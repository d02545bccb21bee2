/**
 * `npm run db:seed [-- --allow-remote]`: loads the demo data (scripts/seed/data.ts) into DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/tenpo), which must already be migrated (`npm run db:migrate`).
 * Prints its progress; exits 1 with the reason when it refuses or fails (scripts/seed/loader.ts says when).
 */
import { seedDemoData } from "./loader";

const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/tenpo";
const allowRemote = process.argv.includes("--allow-remote") || undefined;
seedDemoData(url, { onProgress: (msg) => console.log(msg), allowRemote })
  .then(({ seeded, generatedAdminPassword }) => {
    if (!seeded) console.log("seed: products already present, nothing to do");
    if (generatedAdminPassword)
      console.log(`seed: admin@example.com's password is ${generatedAdminPassword} (generated, stored nowhere else: keep it now)`);
  })
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
