/**
 * Specification of where the demo data may go (scripts/seed/loader.ts): its passwords are published, so only
 * a database on this machine gets it unless told otherwise, and even then the admin's password is not
 * the published one. Run in Node: the seed is a Node command and talks to PostgreSQL itself.
 */
import { spawn } from "node:child_process";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../scripts/migrate";
import { buildDemoProducts, buildDemoUsers, DEMO_SEARCH_TERMS, demoSaltFor } from "../../scripts/seed/data";
import { hashPasswordForSeed, planSeed, seedDemoData } from "../../scripts/seed/loader";
import { dropDatabase, ensureDatabase } from "../../scripts/services";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const REMOTE = "postgres://tenpo:pw@ep-quiet-sea-123456.eu-central-1.aws.neon.tech/tenpo?sslmode=require";
const LOCAL = "postgres://postgres@127.0.0.1:5432/tenpo";

describe("planSeed", () => {
  it("seeds a database on this machine with the published admin password", () => {
    for (const url of [LOCAL, "postgres://postgres@localhost/tenpo", "postgres:///tenpo?host=/var/run/postgresql"]) {
      expect(planSeed(url, {}, {})).toEqual({ adminPassword: "admin123", generated: false });
    }
  });

  it("refuses any other database, naming its host (never its password) and the way to go on", () => {
    const plan = planSeed(REMOTE, {}, {});
    expect(plan.refused).toMatch(/^seed: refusing ep-quiet-sea-123456\.eu-central-1\.aws\.neon\.tech: not a database on this machine/);
    expect(plan.refused).toContain("--allow-remote");
    expect(plan.refused).toContain("TENPO_SEED_ALLOW_REMOTE=1");
    expect(plan.refused).not.toContain("pw");
    expect(planSeed("not a url", {}, {}).refused).toBeDefined();
  });

  it("seeds it when told, with a generated admin password, new every time", () => {
    const first = planSeed(REMOTE, { allowRemote: true }, {});
    const second = planSeed(REMOTE, {}, { TENPO_SEED_ALLOW_REMOTE: "1" });
    for (const plan of [first, second]) {
      expect(plan).toMatchObject({ generated: true, adminPassword: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/) });
    }
    const passwords = [first, second].map((plan) => (plan.refused === undefined ? plan.adminPassword : ""));
    expect(new Set(passwords).size).toBe(2);
    expect(planSeed(REMOTE, {}, { TENPO_SEED_ALLOW_REMOTE: "yes" }).refused).toBeDefined();
  });

  it("takes SEED_ADMIN_PASSWORD instead of generating one", () => {
    expect(planSeed(REMOTE, { allowRemote: true }, { SEED_ADMIN_PASSWORD: "a long pass phrase" })).toEqual({
      adminPassword: "a long pass phrase",
      generated: false,
    });
    expect(planSeed(LOCAL, {}, { SEED_ADMIN_PASSWORD: "a long pass phrase" })).toEqual({
      adminPassword: "a long pass phrase",
      generated: false,
    });
  });

  it("gives the admin the planned password and nobody else", () => {
    const users = buildDemoUsers(1, "planned");
    expect(users.map((u) => [u.email, u.password])).toEqual([
      ["test@example.com", "password123"],
      ["admin@example.com", "planned"],
      ["user1@example.com", "password123"],
    ]);
    expect(buildDemoUsers(0).find((u) => u.isAdmin)?.password).toBe("admin123");
  });
});

describe("the demo data", () => {
  it("has a product name for every search word the load tools use", () => {
    const names = buildDemoProducts(10_000).map((product) => product.name.toLowerCase());
    const unmatched = DEMO_SEARCH_TERMS.filter((term) => !names.some((name) => name.includes(term)));
    expect(unmatched).toEqual([]);
  });
});

describe("seedDemoData", () => {
  it("refuses a database that is not on this machine before connecting to it", async () => {
    // A host that cannot be resolved offline: a connection attempt would fail differently.
    await expect(seedDemoData("postgres://postgres@db.tenpo.invalid:5432/tenpo")).rejects.toThrow(
      /^seed: refusing db\.tenpo\.invalid:5432/,
    );
  });

  describe("on a database it sees as remote, when told", () => {
    // ::ffff:127.0.0.1 reaches this machine's PostgreSQL, but it is not one of the loopback names the
    // seed trusts: to the seed it is a remote database, which lets the remote path run for real.
    const name = `tenpo_seed_remote_${Date.now()}_${randomBytes(3).toString("hex")}`;
    const local = `postgres://postgres@127.0.0.1:5432/${name}`;
    const seenAsRemote = `postgres://postgres@[::ffff:127.0.0.1]:5432/${name}`;

    afterAll(async () => {
      await dropDatabase(local);
    });

    it("writes a generated admin password, returns it, and never the published one", async () => {
      await ensureDatabase(local);
      await migrateDatabase(local);
      await expect(seedDemoData(seenAsRemote, { users: 0, products: 5, orders: 0 })).rejects.toThrow(/^seed: refusing/);
      const result = await seedDemoData(seenAsRemote, { users: 0, products: 5, orders: 0, allowRemote: true });
      expect(result).toMatchObject({ seeded: true, generatedAdminPassword: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/) });
      const client = new pg.Client({ connectionString: local });
      await client.connect();
      try {
        const { rows } = await client.query<{ password_hash: string }>("select password_hash from users where email = 'admin@example.com'");
        const salt = demoSaltFor("admin@example.com");
        expect(rows[0]?.password_hash).toBe(await hashPasswordForSeed(result.generatedAdminPassword!, salt));
        expect(rows[0]?.password_hash).not.toBe(await hashPasswordForSeed("admin123", salt));
        // The stored format, computed here independently of the code that writes it.
        const key = pbkdf2Sync(result.generatedAdminPassword!, salt, 100_000, 32, "sha256");
        expect(rows[0]?.password_hash).toBe(`pbkdf2-sha256$100000$${Buffer.from(salt).toString("base64")}$${key.toString("base64")}`);
      } finally {
        await client.end();
      }
    });
  });
});

describe("npm run db:seed", () => {
  it("exits 1 with the refusal for a DATABASE_URL that is not on this machine", async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn("npm", ["run", "--silent", "db:seed"], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: "postgres://postgres@db.tenpo.invalid:5432/tenpo", TENPO_SEED_ALLOW_REMOTE: "" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.once("error", reject);
      child.once("exit", (exitCode) => resolve({ code: exitCode, stderr }));
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^seed: refusing db\.tenpo\.invalid:5432: not a database on this machine/);
  });
});
