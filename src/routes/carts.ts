import { createRoute } from "@hono/zod-openapi";
import { optionalUser, requireUser } from "../middleware/auth";
import { createRouter } from "../router";
import { CartIdParamSchema, CartItemBodySchema, CartItemParamSchema, CartSchema, CartWriteHeadersSchema } from "../schemas/carts";
import { bodyErrorResponses, errorResponses } from "../schemas/common";
import { claimCart, createCart, getCart, removeCartItem, setCartItem } from "../services/carts";

const CART_TAGS = ["Carts"];
/** A token is optional: without one the caller is a guest; a token that is sent must be valid. */
const OPTIONAL_TOKEN: Array<Record<string, string[]>> = [{}, { bearerAuth: [] }];
const TOKEN = [{ bearerAuth: [] }];

const etagHeader = {
  ETag: {
    description: 'The cart\'s version as a strong entity tag (`"7"`): send it as If-Match to change the cart only as it was then',
    required: true,
    schema: { type: "string" as const, pattern: '^"[0-9]+"$' },
  },
};
const cartResponse = (description: string) => ({
  description,
  headers: etagHeader,
  content: { "application/json": { schema: CartSchema } },
});

/** What every cart operation may answer: a refused token, a failure, a database that does not answer. */
const cartFailures = {
  401: {
    ...errorResponses[401],
    description: "`unauthorized`: a token was sent and is invalid, expired or revoked, or its account no longer exists",
  },
  500: errorResponses[500],
  503: errorResponses[503],
};
const cartNotFound = {
  ...errorResponses[404],
  description:
    "`not_found`: no cart the caller may use has this id (unknown, malformed, expired, checked out, merged, or another customer's)",
};
const preconditionFailed = errorResponses[412];

/** /api/v1/carts: guest and customer carts. Every operation is one database round trip. */
export const carts = createRouter();

carts.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "createCart",
    tags: CART_TAGS,
    summary: "Open a cart",
    description:
      "Without a token: a new guest cart, whose id is the only key to it. With a token: the caller's open cart " +
      "(200), or a new one (201) when they have none; a customer has at most one open cart, however many calls race.",
    security: OPTIONAL_TOKEN,
    middleware: [optionalUser] as const,
    responses: {
      201: {
        ...cartResponse("A new cart"),
        headers: { ...etagHeader, Location: { description: "The cart's URL", required: true, schema: { type: "string" } } },
      },
      200: cartResponse("The caller's open cart, which they already had"),
      // It takes no body, but a POST's JSON body is parsed before any route (src/middleware/json-body.ts).
      400: bodyErrorResponses[400],
      ...cartFailures,
      413: bodyErrorResponses[413],
    },
  }),
  async (c) => {
    const { created, cart } = await createCart(c.get("db"), c.var.user);
    c.header("ETag", cart.etag);
    if (!created) return c.json(cart.body, 200);
    c.header("Location", `/api/v1/carts/${cart.body.id}`);
    return c.json(cart.body, 201);
  },
);

carts.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getCart",
    tags: CART_TAGS,
    summary: "Get a cart",
    description:
      "A guest cart answers anyone with its id; a customer's cart only its owner's token. Prices are the products' " +
      "current ones, read with the cart (never from a cache).",
    security: OPTIONAL_TOKEN,
    middleware: [optionalUser] as const,
    request: { params: CartIdParamSchema },
    responses: {
      200: cartResponse("The cart"),
      ...cartFailures,
      404: cartNotFound,
    },
  }),
  async (c) => {
    const cart = await getCart(c.get("db"), c.var.user, c.req.valid("param").id);
    c.header("ETag", cart.etag);
    return c.json(cart.body, 200);
  },
);

carts.openapi(
  createRoute({
    method: "put",
    path: "/{id}/items/{product_id}",
    operationId: "setCartItem",
    tags: CART_TAGS,
    summary: "Set a line of a cart",
    description:
      "Sets the product's quantity in the cart, adding the line (at the end) when the cart has none. The product's " +
      "current stock must cover the quantity; it is checked, not reserved. Concurrent writes to one cart never lose one another.",
    security: OPTIONAL_TOKEN,
    middleware: [optionalUser] as const,
    request: {
      params: CartItemParamSchema,
      headers: CartWriteHeadersSchema,
      body: { required: true, content: { "application/json": { schema: CartItemBodySchema } } },
    },
    responses: {
      200: cartResponse("The cart as it now is"),
      ...bodyErrorResponses,
      400: {
        ...bodyErrorResponses[400],
        description: `${bodyErrorResponses[400].description}; also \`validation_error\` for a product_id or an If-Match that is not valid`,
      },
      ...cartFailures,
      404: { ...cartNotFound, description: `${cartNotFound.description}, or the product is unknown or no longer in the catalog` },
      409: {
        ...errorResponses[409],
        description:
          "`insufficient_stock` (details: `[{product_id, requested, available}]`): the quantity is above the product's stock now; " +
          "or `cart_full`: the cart has 50 lines and this would be another",
      },
      412: preconditionFailed,
    },
  }),
  async (c) => {
    const { id, product_id } = c.req.valid("param");
    const ifMatch = c.req.valid("header")["if-match"];
    const { quantity } = c.req.valid("json");
    const cart = await setCartItem(c.get("db"), c.var.user, { id, productId: product_id, quantity, ifMatch });
    c.header("ETag", cart.etag);
    return c.json(cart.body, 200);
  },
);

carts.openapi(
  createRoute({
    method: "delete",
    path: "/{id}/items/{product_id}",
    operationId: "removeCartItem",
    tags: CART_TAGS,
    summary: "Remove a line from a cart",
    security: OPTIONAL_TOKEN,
    middleware: [optionalUser] as const,
    request: { params: CartItemParamSchema, headers: CartWriteHeadersSchema },
    responses: {
      200: cartResponse("The cart as it now is"),
      400: { ...errorResponses[400], description: "`validation_error`: the product_id or the If-Match header is not valid" },
      ...cartFailures,
      404: { ...cartNotFound, description: `${cartNotFound.description}, or the cart has no line for the product` },
      412: preconditionFailed,
      // The body limit applies to every request that carries a body, this one included.
      413: bodyErrorResponses[413],
    },
  }),
  async (c) => {
    const { id, product_id } = c.req.valid("param");
    const ifMatch = c.req.valid("header")["if-match"];
    const cart = await removeCartItem(c.get("db"), c.var.user, { id, productId: product_id, ifMatch });
    c.header("ETag", cart.etag);
    return c.json(cart.body, 200);
  },
);

carts.openapi(
  createRoute({
    method: "post",
    path: "/{id}/claim",
    operationId: "claimCart",
    tags: CART_TAGS,
    summary: "Make a guest cart mine",
    description:
      "A guest cart becomes the caller's. When the caller already has an open cart, the guest cart's lines are merged " +
      "into it (the same product: quantities summed, at most 1000) and the guest cart ends (404 afterwards); should the " +
      "merge make more than 50 lines, it is 409 cart_full and neither cart changes. The answer is the caller's cart; " +
      "claiming one's own cart answers it as it is.",
    security: TOKEN,
    middleware: [requireUser] as const,
    request: { params: CartIdParamSchema },
    responses: {
      200: cartResponse("The caller's cart"),
      // It takes no body, but a POST's JSON body is parsed before any route (src/middleware/json-body.ts).
      400: bodyErrorResponses[400],
      ...cartFailures,
      401: errorResponses[401],
      404: cartNotFound,
      409: { ...errorResponses[409], description: "`cart_full`: the merged cart would have more than 50 lines; nothing changed" },
      413: bodyErrorResponses[413],
    },
  }),
  async (c) => {
    const cart = await claimCart(c.get("db"), c.var.user, c.req.valid("param").id);
    c.header("ETag", cart.etag);
    return c.json(cart.body, 200);
  },
);
