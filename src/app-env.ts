import type { Database } from "./db/client";
import type { AuthenticatedUser } from "./lib/access-token";

/** Hono typing shared by the app and every route: the Worker's bindings and per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** drizzle over Neon HTTP, created once per request. */
    db: Database;
    /** Set by requireUser / requireAdmin (src/middleware/auth.ts); routes behind them see it as set. */
    user?: AuthenticatedUser;
  };
};

/** The typing behind requireUser / requireAdmin (src/middleware/auth.ts): `user` is set, so handlers read `c.var.user`. */
export type AuthenticatedEnv = {
  Bindings: Env;
  Variables: AppEnv["Variables"] & { user: AuthenticatedUser };
};
