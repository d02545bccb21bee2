// Optional bindings of the catalog cache that wrangler.toml does not set (so `npm run types` does not
// generate them): CACHE_NAMESPACE overrides the key namespace derived from the database (README
// "Catalog cache"); tests give each case its own.
declare namespace Cloudflare {
  interface Env {
    CACHE_NAMESPACE?: string;
  }
}
