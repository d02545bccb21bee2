import { createRouter } from "../router";

/** /api/v1/products: public catalog reads, admin writes. */
export const products = createRouter();

/** /api/v1/categories */
export const categories = createRouter();
