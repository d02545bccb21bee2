import { createRouter } from "../router";

/** /api/v1/auth: register, login, me. */
export const auth = createRouter();
