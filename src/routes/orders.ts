import { createRouter } from "../router";

/** /api/v1/orders: the caller's orders. */
export const orders = createRouter();
