import { app } from "./app";

/** The Worker entry: HTTP requests go to the Hono app. */
export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
