import type { Database } from "./db/client";
import type { AuthenticatedUser } from "./lib/access-token";

/** Hono typing shared by the app and every route: the Worker's bindings and per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** drizzle over Neon HTTP, created once per request. */
    db: Database;
    /** Set by the auth middleware when the request carries a valid token. */
    user?: AuthenticatedUser;
  };
};
