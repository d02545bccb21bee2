// An optional binding of the throttles that wrangler.toml does not set (so `npm run types` does not
// generate it): THROTTLE_NAMESPACE overrides the prefix of every throttle key in Redis (default
// "tenpo:ratelimit:"); tests give each run, and each case that injects a fault, its own.
declare namespace Cloudflare {
  interface Env {
    THROTTLE_NAMESPACE?: string;
  }
}
