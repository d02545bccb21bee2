/**
 * Runs once in Node before the workerd test pool: makes a fresh database for this run, applies the
 * migrations, starts the SQL-over-HTTP and Upstash REST servers (the catalog cache's and the throttles'),
 * the mail and metrics sinks and the Stripe stand-in on free ports, each with a secret of this run, and
 * hands their addresses and secrets to the Worker bindings (vitest.config.ts). Everything is torn down
 * afterwards.
 */
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { migrateDatabase } from "../scripts/migrate";
import { seedDemoData } from "../scripts/seed/loader";
import { startNeonHttpServer } from "../scripts/neon-http-server";
import { newLocalSecret } from "../scripts/local-http";
import { startUpstashRestServer } from "../scripts/upstash-rest-server";
import { startMailSink } from "../scripts/mail-sink";
import { startMetricsSink } from "../scripts/metrics-sink";
import { startStripeStandIn } from "../scripts/stripe-standin";
import { deleteKeysUnder, dropDatabase, ensureDatabase, postgresAnswers, redisAnswers, throttleRedisUrl } from "../scripts/services";

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    neonHttpEndpoint: string;
    neonHttpSecret: string;
    upstashRestUrl: string;
    upstashRestToken: string;
    throttleRestUrl: string;
    throttleRestToken: string;
    throttleNamespace: string;
    demoDatabaseUrl: string;
    emailApiUrl: string;
    emailApiKey: string;
    metricsSinkUrl: string;
    stripeApiBase: string;
    stripeSecretKey: string;
    stripeWebhookSecret: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = new URL(REDIS_URL);
  if (!(await postgresAnswers(POSTGRES_URL))) {
    throw new Error(`Tests need PostgreSQL at ${POSTGRES_URL} (set TEST_POSTGRES_URL); none answered. See README "Running the tests".`);
  }
  if (!(await redisAnswers(redis.hostname, Number(redis.port || 6379)))) {
    throw new Error(`Tests need Redis at ${REDIS_URL} (set TEST_REDIS_URL); none answered. See README "Running the tests".`);
  }

  const databaseUrl = new URL(POSTGRES_URL);
  databaseUrl.pathname = `/tenpo_test_${Date.now()}_${randomBytes(3).toString("hex")}`;
  const cleanups: Array<() => Promise<unknown>> = [];
  const teardown = async () => {
    // Servers first (they hold connections to the database), then the database itself.
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(err));
  };
  try {
    await ensureDatabase(databaseUrl.toString());
    cleanups.push(() => dropDatabase(databaseUrl.toString()));
    await migrateDatabase(databaseUrl.toString());

    // A second database with the contract's 10,000 demo products, for tests that need realistic
    // volume (query plans). No users or orders: those would only cost PBKDF2 time here.
    const demoDatabaseUrl = new URL(databaseUrl);
    demoDatabaseUrl.pathname += "_demo";
    await ensureDatabase(demoDatabaseUrl.toString());
    cleanups.push(() => dropDatabase(demoDatabaseUrl.toString()));
    await migrateDatabase(demoDatabaseUrl.toString());
    await seedDemoData(demoDatabaseUrl.toString(), { users: 0, orders: 0 });

    const token = randomBytes(16).toString("hex");
    const neonSecret = newLocalSecret();
    const neonServer = await startNeonHttpServer({ port: 0, secret: neonSecret });
    cleanups.push(() => neonServer.close());
    const upstashServer = await startUpstashRestServer({ port: 0, token, redisUrl: REDIS_URL });
    cleanups.push(() => upstashServer.close());
    // The throttles' own Redis (scripts/services.ts THROTTLE_REDIS_DB), as deployed: a second server.
    const throttleToken = randomBytes(16).toString("hex");
    const throttleServer = await startUpstashRestServer({
      port: 0,
      token: throttleToken,
      redisUrl: throttleRedisUrl(REDIS_URL),
      log: (line) => console.log(`[throttle-rest] ${line}`),
    });
    cleanups.push(() => throttleServer.close());
    // A metrics sink of this run, for the tests that follow the Worker's data points to it.
    const metricsFile = join(tmpdir(), `tenpo-test-metrics-${randomBytes(4).toString("hex")}.jsonl`);
    const metricsSink = await startMetricsSink({ port: 0, file: metricsFile });
    cleanups.push(() => rm(metricsFile, { force: true }));
    cleanups.push(() => metricsSink.close());

    project.provide("databaseUrl", databaseUrl.toString());
    project.provide("neonHttpEndpoint", neonServer.url);
    project.provide("neonHttpSecret", neonSecret);
    project.provide("upstashRestUrl", upstashServer.url);
    project.provide("upstashRestToken", token);
    project.provide("throttleRestUrl", throttleServer.url);
    project.provide("throttleRestToken", throttleToken);
    // Throttle keys of this run only: counters of other runs on the same Redis (fixed client addresses,
    // "unknown") never reach into this one. Deleted afterwards (a familiar client's key lives 30 days).
    const throttleNamespace = `tenpo:test-${randomBytes(4).toString("hex")}:ratelimit:`;
    project.provide("throttleNamespace", throttleNamespace);
    cleanups.push(() => deleteKeysUnder(throttleRedisUrl(REDIS_URL), throttleNamespace));
    project.provide("demoDatabaseUrl", demoDatabaseUrl.toString());
    // The e-mail API of this run (scripts/mail-sink.ts): the order e-mail consumer sends here and tests read it back.
    const emailApiKey = randomBytes(16).toString("hex");
    const mailSink = await startMailSink({ port: 0, apiKey: emailApiKey });
    cleanups.push(() => mailSink.close());
    project.provide("emailApiUrl", mailSink.sendUrl);
    project.provide("emailApiKey", emailApiKey);
    project.provide("metricsSinkUrl", metricsSink.url);
    // Stripe for this run (scripts/stripe-standin.ts), with a key and an endpoint secret of its own. No
    // webhook URL: workerd cannot listen, so tests read the signed events at /__events and POST them to
    // the Worker themselves.
    const stripeSecretKey = `sk_test_${randomBytes(16).toString("hex")}`;
    const stripeWebhookSecret = `whsec_${randomBytes(16).toString("hex")}`;
    const stripe = await startStripeStandIn({ port: 0, apiKey: stripeSecretKey, webhookSecret: stripeWebhookSecret });
    cleanups.push(() => stripe.close());
    project.provide("stripeApiBase", stripe.url);
    project.provide("stripeSecretKey", stripeSecretKey);
    project.provide("stripeWebhookSecret", stripeWebhookSecret);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
