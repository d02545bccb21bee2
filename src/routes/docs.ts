import { createRouter } from "../router";

/** /openapi.json and /docs. */
export const docs = createRouter();
