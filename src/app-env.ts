/** Hono typing shared by the app and every route: the Worker's bindings and per-request variables. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
  };
};
