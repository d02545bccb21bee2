import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig, type Plugin } from "vitest/config";
import { writeDocsAssets } from "./scripts/docs-assets";

// wrangler.toml's [assets] directory (the Swagger UI files of /docs) must exist before the pool reads it;
// vitest runs no wrangler build, so it is written here.
writeDocsAssets(fileURLToPath(new URL(".", import.meta.url)));

/**
 * The stripe package ships a source map beside each of its ~200 files that points at its TypeScript
 * sources, which it does not publish; Vite warns once per file ("Sourcemap … points to missing source
 * files") every run that loads the SDK. Loaded here without their source maps: stack traces in the SDK
 * then name its published JavaScript, which is the code that runs.
 */
function stripeWithoutSourceMaps(): Plugin {
  return {
    name: "tenpo:stripe-without-source-maps",
    enforce: "pre",
    async load(id) {
      const [file = id] = id.split("?");
      if (!/[\\/]node_modules[\\/]stripe[\\/].*\.js$/.test(file)) return null;
      const code = await readFile(file, "utf8");
      return { code: code.replace(/^\/\/# sourceMappingURL=.*$/m, ""), map: null };
    },
  };
}

// Tests run inside workerd with the bindings of wrangler.toml, pointed by test/global-setup.ts at a
// fresh database of their own and at the local protocol servers in front of the real PostgreSQL and Redis.
export default defineConfig({
  plugins: [
    stripeWithoutSourceMaps(),
    cloudflareTest(async ({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ENVIRONMENT: "test",
          DATABASE_URL: inject("databaseUrl"),
          NEON_HTTP_ENDPOINT: inject("neonHttpEndpoint"),
          NEON_HTTP_SECRET: inject("neonHttpSecret"),
          UPSTASH_REDIS_REST_URL: inject("upstashRestUrl"),
          UPSTASH_REDIS_REST_TOKEN: inject("upstashRestToken"),
          THROTTLE_REDIS_REST_URL: inject("throttleRestUrl"),
          THROTTLE_REDIS_REST_TOKEN: inject("throttleRestToken"),
          THROTTLE_NAMESPACE: inject("throttleNamespace"),
          JWT_SECRET: "tenpo-test-secret",
          // This run's mail sink (scripts/mail-sink.ts), started by test/global-setup.ts.
          EMAIL_API_URL: inject("emailApiUrl"),
          EMAIL_API_KEY: inject("emailApiKey"),
          // This run's Stripe stand-in (scripts/stripe-standin.ts), started by test/global-setup.ts.
          STRIPE_API_BASE: inject("stripeApiBase"),
          STRIPE_SECRET_KEY: inject("stripeSecretKey"),
          STRIPE_WEBHOOK_SECRET: inject("stripeWebhookSecret"),
          // No access line per request in test output; failed requests still log (test/middleware/logging.test.ts turns it on).
          LOG_REQUESTS: "false",
          // Test-only: the seeded demo database (see test/global-setup.ts).
          DEMO_DATABASE_URL: inject("demoDatabaseUrl"),
          // Test-only: this run's metrics sink (scripts/metrics-sink.ts); METRICS_SINK_URL itself stays empty.
          TEST_METRICS_SINK_URL: inject("metricsSinkUrl"),
        },
      },
    })),
  ],
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      // Everything, inside workerd, against this run's servers (test/global-setup.ts).
      {
        extends: true,
        test: {
          name: "workerd",
          globalSetup: ["./test/global-setup.ts"],
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.node.test.ts"],
        },
      },
      // Node-side scripts where workerd cannot reach: processes (exit codes) and raw HTTP (a Host header
      // of one's choosing). Named *.node.test.ts; each starts what it needs.
      { test: { name: "node", environment: "node", include: ["test/**/*.node.test.ts"], testTimeout: 60_000 } },
    ],
  },
});
