import { createRoute } from "@hono/zod-openapi";
import { runAfterResponse } from "../lib/run-after-response";
import { stripeClient } from "../lib/stripe";
import { requireAdmin, requireUser } from "../middleware/auth";
import { createRouter } from "../router";
import { IdParamSchema, bodyErrorResponses, errorResponses } from "../schemas/common";
import {
  OrderCreateHeadersSchema,
  OrderCreateSchema,
  OrderListQuerySchema,
  OrderPageSchema,
  OrderSchema,
  type OrderBody,
} from "../schemas/orders";
import { enqueueOrderEmail, enqueueOrderEmails } from "../services/email-outbox";
import { cancelOrder } from "../services/order-cancel";
import { fulfilOrder } from "../services/order-fulfil";
import { settleOwedRefundOrWarn } from "../services/refunds";
import { cancelPaymentIntent } from "../services/payments";
import { placeOrder } from "../services/order-placement";
import { getOrder, listOrders } from "../services/order-reads";
import { requestFingerprint } from "./order-fingerprint";

const ORDER_TAGS = ["Orders"];
const SECURITY = [{ bearerAuth: [] }];
const orderJson = { "application/json": { schema: OrderSchema } };
/** What every order operation may answer: a refused token, a failure, a database that does not answer. */
const orderFailures = { 401: errorResponses[401], 500: errorResponses[500], 503: errorResponses[503] };

/** /api/v1/orders: the caller's orders. Every operation is one database round trip. */
export const orders = createRouter();

orders.openapi(
  createRoute({
    method: "post",
    path: "/",
    operationId: "placeOrder",
    tags: ORDER_TAGS,
    summary: "Place an order",
    description:
      "All or nothing: stock is taken for every line or for none, and never goes below zero however many " +
      "orders race for it. Unit prices are the prices now. A confirmation e-mail follows in the background, once.",
    security: SECURITY,
    middleware: [requireUser] as const,
    request: {
      headers: OrderCreateHeadersSchema,
      body: { required: true, content: { "application/json": { schema: OrderCreateSchema } } },
    },
    responses: {
      201: {
        description: "The new order (or, for a replayed Idempotency-Key, the first response again)",
        headers: {
          Location: { description: "The order's URL", required: true, schema: { type: "string" } },
          "Idempotent-Replayed": {
            description: "`true` when this is a stored response",
            schema: { type: "string", enum: ["true"] },
          },
        },
        content: orderJson,
      },
      ...bodyErrorResponses,
      ...orderFailures,
      404: {
        ...errorResponses[404],
        description: "`not_found`: a product is unknown or no longer in the catalog (also replayed, with `Idempotent-Replayed: true`)",
      },
      409: {
        ...errorResponses[409],
        description:
          "`insufficient_stock` (details: `[{product_id, requested, available}]`; also replayed, with `Idempotent-Replayed: true`), " +
          "or `idempotency_conflict`: the Idempotency-Key was used with another body",
      },
      503: {
        ...errorResponses[503],
        description:
          `${errorResponses[503].description}. The order may or may not have been placed: ` +
          "retrying with the same Idempotency-Key answers the first order if there was one and places it once if not.",
      },
    },
  }),
  async (c) => {
    const user = c.var.user;
    const { items } = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    const idempotency = key === undefined ? undefined : { key, fingerprint: await requestFingerprint(items) };
    const result = await placeOrder(c.get("db"), { userId: user.id, tokenVersion: user.tokenVersion, lines: items, idempotency });
    if (result.kind === "created") {
      // After the commit, off the response path; a failure here loses nothing (the outbox row stays
      // unsent and the re-send cron picks it up) and never fails the order.
      // No database round trip either: the enqueue is not recorded (src/services/email-outbox.ts).
      runAfterResponse(
        enqueueOrderEmail(c.env.ORDER_EMAILS, { outbox_id: result.outboxId, order_id: result.body.id, request_id: c.get("requestId") }),
        () => c.executionCtx,
      );
      c.header("Location", `/api/v1/orders/${result.body.id}`);
      return c.json(result.body, 201);
    }
    c.header("Idempotent-Replayed", "true");
    if (result.status === 201) {
      const body = result.body as OrderBody;
      c.header("Location", `/api/v1/orders/${body.id}`);
      return c.json(body, 201);
    }
    return c.json(result.body as { error: { code: string; message: string } }, result.status as 404 | 409);
  },
);

orders.openapi(
  createRoute({
    method: "get",
    path: "/",
    operationId: "listOrders",
    tags: ORDER_TAGS,
    summary: "List my orders",
    description: "The caller's own orders, newest first, with their lines and products; one database round trip whatever the page size.",
    security: SECURITY,
    middleware: [requireUser] as const,
    request: { query: OrderListQuerySchema },
    responses: {
      200: { description: "One page of orders", content: { "application/json": { schema: OrderPageSchema } } },
      400: errorResponses[400],
      ...orderFailures,
    },
  }),
  async (c) => {
    const { page, page_size } = c.req.valid("query");
    return c.json(await listOrders(c.get("db"), c.var.user, page, page_size), 200);
  },
);

orders.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    operationId: "getOrder",
    tags: ORDER_TAGS,
    summary: "Get an order",
    description: "The caller's order; someone else's is 404 (admins may read any).",
    security: SECURITY,
    middleware: [requireUser] as const,
    request: { params: IdParamSchema },
    responses: {
      200: { description: "The order", content: orderJson },
      400: errorResponses[400],
      ...orderFailures,
      404: errorResponses[404],
    },
  }),
  async (c) => c.json(await getOrder(c.get("db"), c.var.user, c.req.valid("param").id), 200),
);

orders.openapi(
  createRoute({
    method: "post",
    path: "/{id}/cancel",
    operationId: "cancelOrder",
    tags: ORDER_TAGS,
    summary: "Cancel an order",
    description:
      "`confirmed` or `pending_payment` → `cancelled`; `paid` → `refunded` (the whole amount goes back through Stripe). " +
      "Its stock goes back exactly once, however often and concurrently this is called; cancelling a cancelled or " +
      "refunded order answers 200 with it. A `fulfilled` or `expired` order is 409 `invalid_state`. Someone else's " +
      "order is 404 (admins may cancel any).",
    security: SECURITY,
    middleware: [requireUser] as const,
    request: { params: IdParamSchema },
    responses: {
      200: { description: "The cancelled (or refunded) order", content: orderJson },
      // It takes no body, but a POST's JSON body is parsed before any route (src/middleware/json-body.ts).
      400: bodyErrorResponses[400],
      ...orderFailures,
      404: errorResponses[404],
      409: { ...errorResponses[409], description: "`invalid_state`: the order is fulfilled or expired" },
      413: bodyErrorResponses[413],
    },
  }),
  async (c) => {
    const result = await cancelOrder(c.get("db"), c.var.user, c.req.valid("param").id);
    const { order, outboxIds, refundOwed, abandonedPaymentIntent } = result;
    // After the commit, off the response path; each failure loses nothing (refunds.ts, email-outbox.ts, payments.ts).
    const ctx = () => c.executionCtx;
    runAfterResponse(enqueueOrderEmails(c.env.ORDER_EMAILS, outboxIds, order.id, c.get("requestId")), ctx);
    if (refundOwed) runAfterResponse(settleOwedRefundOrWarn(c.get("db"), stripeClient(c.env), c.env.ENVIRONMENT, order.id), ctx);
    if (abandonedPaymentIntent) runAfterResponse(cancelPaymentIntent(stripeClient(c.env), abandonedPaymentIntent, order.id), ctx);
    return c.json(order, 200);
  },
);

orders.openapi(
  createRoute({
    method: "post",
    path: "/{id}/fulfil",
    operationId: "fulfilOrder",
    tags: ORDER_TAGS,
    summary: "Mark a paid order fulfilled (admin)",
    description: "`paid` → `fulfilled`: its goods have left. Any other status is 409 `invalid_state`.",
    security: SECURITY,
    middleware: [requireAdmin] as const,
    request: { params: IdParamSchema },
    responses: {
      200: { description: "The fulfilled order", content: orderJson },
      400: bodyErrorResponses[400],
      ...orderFailures,
      403: errorResponses[403],
      404: errorResponses[404],
      409: { ...errorResponses[409], description: "`invalid_state`: the order is not paid" },
      413: bodyErrorResponses[413],
    },
  }),
  async (c) => c.json(await fulfilOrder(c.get("db"), c.var.user, c.req.valid("param").id), 200),
);
