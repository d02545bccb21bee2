import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  json,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

// Money is numeric(10,2) end to end: drizzle hands it over as a string ("19.99"), which is what
// the API returns, so no value ever passes through a float.
const money = (name: string) => numeric(name, { precision: 10, scale: 2 });
const createdAt = () => timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();

export const users = pgTable(
  "users",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    email: text("email").notNull(),
    // "pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>": parameters travel with the hash so they can be raised later.
    passwordHash: text("password_hash").notNull(),
    fullName: text("full_name"),
    isAdmin: boolean("is_admin").notNull().default(false),
    // Carried in every token the account is issued (claim `ver`); a token of another version is no
    // longer valid, so raising it revokes all of the account's tokens at once (src/services/accounts.ts).
    tokenVersion: integer("token_version").notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("users_email_lower_key").on(sql`lower(${t.email})`)],
);

export const products = pgTable(
  "products",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    category: text("category").notNull(),
    price: money("price").notNull(),
    stock: integer("stock").notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    // Soft delete: a deleted product leaves the catalog but past order items still point at it.
    deletedAt: timestamp("deleted_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    check("products_price_non_negative", sql`${t.price} >= 0`),
    check("products_stock_non_negative", sql`${t.stock} >= 0`),
    index("products_category_price_idx").on(t.category, t.price),
    index("products_name_trgm_idx").using("gin", t.name.op("gin_trgm_ops")),
  ],
);

/**
 * Carts (docs/api.md "Carts"). A guest cart (user_id null) answers anyone who has its id, a random
 * URL-safe string of 24 characters (18 random bytes); a customer's cart answers only its owner. A
 * customer has at most one open cart (the partial unique index). `version` is the cart's ETag: every
 * change raises it, and a write with an If-Match of another version changes nothing. A cart expires
 * 7 days after its last change; stock is checked when a line is set, but only taken at checkout.
 */
export const cartStatuses = ["open", "checked_out", "merged", "expired"] as const;
export type CartStatus = (typeof cartStatuses)[number];

export const carts = pgTable(
  "carts",
  {
    id: text("id").primaryKey(),
    userId: integer("user_id").references(() => users.id, { onDelete: "cascade" }),
    status: text("status", { enum: cartStatuses }).notNull().default("open"),
    version: integer("version").notNull().default(1),
    createdAt: createdAt(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    check("carts_status_known", sql`${t.status} in (${quotedList(cartStatuses)})`),
    check("carts_id_length", sql`char_length(${t.id}) >= 22`),
    uniqueIndex("carts_user_open_key").on(t.userId).where(sql`${t.status} = 'open'`),
    index("carts_expires_idx").on(t.expiresAt),
  ],
);

export const cartItems = pgTable(
  "cart_items",
  {
    cartId: text("cart_id")
      .notNull()
      .references(() => carts.id, { onDelete: "cascade" }),
    productId: integer("product_id")
      .notNull()
      .references(() => products.id),
    quantity: integer("quantity").notNull(),
    // Lines are listed in the order they were first added.
    addedAt: timestamp("added_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.cartId, t.productId] }),
    check("cart_items_quantity_range", sql`${t.quantity} between 1 and 1000`),
    index("cart_items_product_idx").on(t.productId),
  ],
);

/**
 * Stripe events that took effect (docs/api.md "Checkout"): an event id is inserted in the same
 * statement as the change it makes, so a redelivered or concurrent copy finds it and changes nothing.
 * Pruned after 30 days (Stripe stops re-sending after 3).
 */
export const stripeEvents = pgTable(
  "stripe_events",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    orderId: integer("order_id").references(() => orders.id, { onDelete: "set null" }),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("stripe_events_received_idx").on(t.receivedAt)],
);

/**
 * An order's life (docs/api.md). A direct order (POST /api/v1/orders) is `confirmed` at once; a
 * checkout order is `pending_payment` until Stripe's event makes it `paid`, then an admin marks it
 * `fulfilled`. Stock is held in confirmed, pending_payment, paid and fulfilled, and is back in
 * cancelled, expired and refunded: every change of status that crosses that line moves the stock in
 * the same statement, so it moves once. A `pending_payment` order past its `expires_at` reads as
 * `expired` even before the cron has written it so (order-reads.ts).
 */
export const orderStatuses = ["confirmed", "pending_payment", "paid", "fulfilled", "expired", "cancelled", "refunded"] as const;
export type OrderStatus = (typeof orderStatuses)[number];
const quotedList = (values: readonly string[]) => sql.raw(values.map((v) => `'${v}'`).join(", "));

export const orders = pgTable(
  "orders",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id),
    status: text("status", { enum: orderStatuses }).notNull().default("confirmed"),
    // Wide enough for the largest order the API accepts: 50 lines × 1,000 units × 99,999,999.99.
    totalAmount: numeric("total_amount", { precision: 15, scale: 2 }).notNull(),
    createdAt: createdAt(),
    cancelledAt: timestamp("cancelled_at", { withTimezone: true, mode: "date" }),
    // Checkout orders only (null for direct orders): the cart it came from (one order per cart, so
    // racing checkouts of one cart meet on the unique index), when an unpaid order expires, and the
    // Stripe PaymentIntent that pays it (one per order: created with the order's own Stripe
    // Idempotency-Key, src/services/payments.ts).
    cartId: text("cart_id").references(() => carts.id, { onDelete: "set null" }),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }),
    paidAt: timestamp("paid_at", { withTimezone: true, mode: "date" }),
    fulfilledAt: timestamp("fulfilled_at", { withTimezone: true, mode: "date" }),
    refundedAt: timestamp("refunded_at", { withTimezone: true, mode: "date" }),
    paymentIntentId: text("payment_intent_id"),
    paymentClientSecret: text("payment_client_secret"),
    // The Stripe refund of a `refunded` order that was paid; null while that refund is still owed
    // (Stripe did not answer): the webhook's redelivery and the cron ask again with the same key.
    refundId: text("refund_id"),
  },
  (t) => [
    check("orders_status_known", sql`${t.status} in (${quotedList(orderStatuses)})`),
    check("orders_total_non_negative", sql`${t.totalAmount} >= 0`),
    check("orders_pending_expires", sql`${t.status} <> 'pending_payment' or ${t.expiresAt} is not null`),
    index("orders_user_created_idx").on(t.userId, t.createdAt),
    uniqueIndex("orders_cart_key").on(t.cartId),
    uniqueIndex("orders_payment_intent_key").on(t.paymentIntentId),
    // The expiry cron's scan: unpaid orders by deadline.
    index("orders_pending_expires_idx").on(t.expiresAt).where(sql`${t.status} = 'pending_payment'`),
    // Refunds still owed to Stripe (the cron retries them).
    index("orders_refund_owed_idx")
      .on(t.id)
      .where(sql`${t.status} = 'refunded' and ${t.paymentIntentId} is not null and ${t.refundId} is null`),
  ],
);

export const orderItems = pgTable(
  "order_items",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    orderId: integer("order_id")
      .notNull()
      .references(() => orders.id, { onDelete: "cascade" }),
    productId: integer("product_id")
      .notNull()
      .references(() => products.id),
    quantity: integer("quantity").notNull(),
    // The price when the order was placed; later price changes do not rewrite history.
    unitPrice: money("unit_price").notNull(),
  },
  (t) => [
    check("order_items_quantity_range", sql`${t.quantity} between 1 and 1000`),
    check("order_items_unit_price_non_negative", sql`${t.unitPrice} >= 0`),
    index("order_items_order_idx").on(t.orderId),
    index("order_items_product_idx").on(t.productId),
  ],
);

/**
 * Idempotency-Key records of POST /api/v1/orders (Stripe's semantics), one per (user, key).
 * A row is written in the same transaction as the order it answers for, and every committed row
 * has its response: `status_code` is null only inside the transaction that claims the key. Racing
 * duplicates meet on the unique index; the loser waits for the winner to commit and reads its row.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    // SHA-256 (hex) of the canonical request: the same key with another body is a conflict.
    fingerprint: text("fingerprint").notNull(),
    statusCode: integer("status_code"),
    // json, not jsonb: the stored text is replayed exactly as it was first answered (key order included).
    response: json("response"),
    orderId: integer("order_id").references(() => orders.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [
    uniqueIndex("idempotency_keys_user_key").on(t.userId, t.key),
    index("idempotency_keys_expires_idx").on(t.expiresAt),
    check("idempotency_keys_key_length", sql`char_length(${t.key}) between 1 and 255`),
  ],
);

/**
 * The mailbox an outbox row goes to, as the per-recipient cap counts it (the `recipient` column):
 * the address lower-cased and trimmed, without a "+tag" subaddress, and for Gmail without the dots
 * of the local part (googlemail.com is gmail.com). Each of these spellings reaches the same inbox, so
 * none of them may buy another round of e-mails to it. Computed by Postgres from the payload, so every
 * row has it and no writer can get it wrong.
 */
const recipientOfPayload = sql.raw(`case
  when lower(btrim("payload"->>'to')) ~ '@(gmail|googlemail)\\.com$'
    then replace(split_part(split_part(lower(btrim("payload"->>'to')), '@', 1), '+', 1), '.', '') || '@gmail.com'
  else regexp_replace(lower(btrim("payload"->>'to')), '^([^+@]*)\\+[^@]*@', '\\1@')
end`);

/**
 * The kinds of order e-mail, one outbox row each per order at most: the confirmation (a direct order
 * when it is placed, a checkout order when it is paid), the cancellation (a confirmed or unpaid order
 * cancelled) and the refund (a paid order cancelled, or a payment that came too late for the stock).
 */
export const emailKinds = ["order_confirmation", "order_cancelled", "order_refunded"] as const;
export type EmailKind = (typeof emailKinds)[number];

/**
 * Transactional outbox of order e-mails (emailKinds): each row is written in the same statement as
 * the change it tells of (the order placed or paid, cancelled, refunded: src/services/order-email-sql.ts),
 * so no such change exists without its e-mail job. The queue consumer claims a row (claimed_at, a
 * lease) before sending and marks it sent after, or suppresses it: when its recipient has had its cap
 * of order e-mails for the hour, or when it is a confirmation whose order is no longer going ahead;
 * the cron re-sends rows that stay unsent, and deletes rows older than 30 days; the dead-letter
 * consumer records what finally failed.
 */
export const emailOutbox = pgTable(
  "email_outbox",
  {
    id: integer("id").primaryKey().generatedByDefaultAsIdentity(),
    orderId: integer("order_id")
      .notNull()
      .references(() => orders.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: emailKinds }).notNull(),
    // What the e-mail says, as of the change it tells of: recipient, lines, total (the same shape
    // for every kind: OrderEmailPayload in src/services/email-outbox.ts).
    payload: jsonb("payload").notNull(),
    createdAt: createdAt(),
    // Last time the re-send cron handed the job to the queue. The request's own enqueue, right after
    // the commit, is not recorded (a round trip per order): created_at stands for it.
    enqueuedAt: timestamp("enqueued_at", { withTimezone: true, mode: "date" }),
    // A consumer is sending it since then; a claim older than the lease is abandoned.
    claimedAt: timestamp("claimed_at", { withTimezone: true, mode: "date" }),
    sentAt: timestamp("sent_at", { withTimezone: true, mode: "date" }),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    failedAt: timestamp("failed_at", { withTimezone: true, mode: "date" }),
    providerMessageId: text("provider_message_id"),
    // Not sent, for good, as decided when this row was claimed (src/services/email-outbox-batch.ts):
    // its recipient had had its cap of order e-mails for the hour (the order itself stands), or it
    // is a confirmation whose order was by then cancelled, expired or refunded.
    suppressedAt: timestamp("suppressed_at", { withTimezone: true, mode: "date" }),
    recipient: text("recipient").notNull().generatedAlwaysAs(recipientOfPayload),
  },
  (t) => [
    uniqueIndex("email_outbox_order_kind_key").on(t.orderId, t.kind),
    check("email_outbox_kind_known", sql`${t.kind} in (${quotedList(emailKinds)})`),
    // The re-send cron only ever looks at pending rows.
    index("email_outbox_pending_idx").on(t.id).where(sql`${t.sentAt} is null and ${t.failedAt} is null and ${t.suppressedAt} is null`),
    // The cap's count: a recipient's rows that were sent recently or may still be (failed and
    // suppressed rows, which a flood of orders piles up, are not in it).
    // The 30-day prune (src/services/email-outbox.ts) reads the oldest rows first.
    index("email_outbox_created_idx").on(t.createdAt),
    index("email_outbox_recipient_idx").on(t.recipient, t.sentAt).where(sql`${t.failedAt} is null and ${t.suppressedAt} is null`),
  ],
);

/**
 * Versions of the catalog cache (src/cache/versions.ts) when KV is the only cache store: KV is
 * eventually consistent, so the version every cache key carries lives here, one row per cache
 * namespace, bumped by admin product writes and read by each isolate at most once a second.
 */
export const cacheVersions = pgTable("cache_versions", {
  name: text("name").primaryKey(),
  version: bigint("version", { mode: "number" }).notNull().default(0),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

export type User = typeof users.$inferSelect;
export type Product = typeof products.$inferSelect;
export type Order = typeof orders.$inferSelect;
export type OrderItem = typeof orderItems.$inferSelect;
export type IdempotencyKey = typeof idempotencyKeys.$inferSelect;
export type EmailOutboxRow = typeof emailOutbox.$inferSelect;
export type Cart = typeof carts.$inferSelect;
export type CartItem = typeof cartItems.$inferSelect;
