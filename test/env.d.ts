// Lets `exports.default` from "cloudflare:workers" carry the type of the Worker entry in tests.
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("../src/index");
  }
}

// Test-only bindings added in vitest.config.ts.
declare namespace Cloudflare {
  interface Env {
    DEMO_DATABASE_URL: string;
    TEST_METRICS_SINK_URL: string;
  }
}
