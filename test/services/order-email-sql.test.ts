import { sql, type SQL } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { EmailKind } from "../../src/db/schema";
import type { OrderEmailPayload } from "../../src/services/email-outbox";
import { orderEmailRows } from "../../src/services/order-email-sql";
import { placeOrder } from "../../src/services/order-placement";
import { makeUser, type TestUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { outboxOf } from "../support/orders";
import { changeOrderWithEmail } from "../support/queue";

// The outbox row of any kind of order e-mail, as the statements that change an order embed it
// (orderEmailRows). Each test runs it in a statement of its own against the test database: alone,
// or beside an UPDATE of the order as the cancel and refund statements do (changeOrderWithEmail).

/** An order of `user` for `lines` (product spec and quantity), placed through the service; its id and its confirmation's payload. */
async function placed(
  user: TestUser,
  lines: Array<{ name: string; price: string; quantity: number }>,
): Promise<{ orderId: number; productIds: number[]; confirmation: OrderEmailPayload }> {
  const productIds = await makeProducts(lines.map(({ name, price }) => ({ name, price, stock: 50 })));
  // Placed in an order that is not the products' id order, so "the order they were placed in" is seen.
  const order = productIds.map((id, i) => ({ product_id: id, quantity: lines[i]!.quantity })).reverse();
  const result = await placeOrder(db, { userId: user.id, tokenVersion: 0, lines: order });
  if (result.kind !== "created") throw new Error("expected a new order");
  const { rows } = await db.execute<{ payload: OrderEmailPayload }>(sql`select payload from email_outbox where id = ${result.outboxId}`);
  return { orderId: result.body.id, productIds, confirmation: rows[0]!.payload };
}

/** Runs orderEmailRows alone in a statement; the rows it returned. */
async function writeEmails(kind: EmailKind, orderIds: SQL): Promise<Array<{ id: number; order_id: number }>> {
  const { rows } = await db.execute<{ id: number; order_id: number }>(sql`
    with emails as (${orderEmailRows(kind, orderIds)})
    select id, order_id from emails order by id
  `);
  return rows;
}

describe("orderEmailRows: an order e-mail's outbox row, embedded in the statement that changes the order", () => {
  it("writes the e-mail of the kind asked for, with the payload the confirmation has: recipient, name, total, time, lines as placed", async () => {
    const user = await makeUser({ fullName: "Ann Example" });
    const { orderId, productIds, confirmation } = await placed(user, [
      { name: "Kettle", price: "24.50", quantity: 1 },
      { name: "Tea <Pot> & Cup", price: "7.00", quantity: 3 },
      { name: "Mug", price: "0.99", quantity: 2 },
    ]);
    const message = await changeOrderWithEmail(orderId, "cancelled", "order_cancelled");
    expect(message).toEqual({ outbox_id: expect.any(Number), order_id: orderId });

    const row = await outboxOf(orderId, "order_cancelled");
    expect(row.id).toBe(message!.outbox_id);
    expect(row.payload).toEqual(confirmation);
    expect(row.payload).toEqual({
      to: user.email,
      full_name: "Ann Example",
      order_id: orderId,
      total_amount: "47.48",
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      items: [
        { product_id: productIds[2], name: "Mug", quantity: 2, unit_price: "0.99" },
        { product_id: productIds[1], name: "Tea <Pot> & Cup", quantity: 3, unit_price: "7.00" },
        { product_id: productIds[0], name: "Kettle", quantity: 1, unit_price: "24.50" },
      ],
    });
    // A row like any other: pending, counted under its recipient.
    expect(row).toMatchObject({
      kind: "order_cancelled",
      sent_at: null,
      claimed_at: null,
      attempts: 0,
      recipient: user.email.toLowerCase(),
    });
    // The confirmation is left as it was.
    expect((await outboxOf(orderId)).payload).toEqual(confirmation);
  });

  it("has the prices paid and the products' current names, a product deleted since included", async () => {
    const user = await makeUser();
    const { orderId, productIds } = await placed(user, [{ name: "Lamp", price: "12.00", quantity: 1 }]);
    await db.execute(sql`update products set name = 'Desk Lamp', price = 15.00, deleted_at = now() where id = ${productIds[0]!}`);
    await changeOrderWithEmail(orderId, "refunded", "order_refunded");
    const { payload } = await outboxOf(orderId, "order_refunded");
    expect(payload).toMatchObject({ full_name: null, total_amount: "12.00" });
    expect((payload as unknown as OrderEmailPayload).items).toEqual([
      { product_id: productIds[0], name: "Desk Lamp", quantity: 1, unit_price: "12.00" },
    ]);
  });

  it("writes nothing for an order the statement did not change: its UPDATE returned no row", async () => {
    const user = await makeUser();
    const { orderId } = await placed(user, [{ name: "Vase", price: "3.00", quantity: 1 }]);
    expect(await changeOrderWithEmail(orderId, "cancelled", "order_cancelled")).not.toBeNull();
    // Cancelled again: the UPDATE finds nothing to change, so no second e-mail is even attempted.
    expect(await changeOrderWithEmail(orderId, "cancelled", "order_cancelled")).toBeNull();
    const { rows } = await db.execute<{ kind: string }>(sql`select kind from email_outbox where order_id = ${orderId} order by kind`);
    expect(rows.map((r) => r.kind)).toEqual(["order_cancelled", "order_confirmation"]);
  });

  it("keeps one row per order and kind: a repeat returns nothing and leaves the first row as it was", async () => {
    const user = await makeUser();
    const { orderId } = await placed(user, [{ name: "Bowl", price: "5.00", quantity: 2 }]);
    const [first] = await writeEmails("order_cancelled", sql`select ${orderId}::int`);
    expect(first).toEqual({ id: expect.any(Number), order_id: orderId });
    await db.execute(sql`update email_outbox set sent_at = now() where id = ${first!.id}`);

    expect(await writeEmails("order_cancelled", sql`select ${orderId}::int`)).toEqual([]);
    const row = await outboxOf(orderId, "order_cancelled");
    expect(row.id).toBe(first!.id);
    expect(row.sent_at).not.toBeNull();
    // The confirmation's row is already there too: placement wrote it, this writes none.
    expect(await writeEmails("order_confirmation", sql`select ${orderId}::int`)).toEqual([]);
  });

  it("writes one row per order its subquery selects, in order id order; ids naming no order write nothing", async () => {
    const user = await makeUser();
    const a = await placed(user, [{ name: "Plate", price: "2.00", quantity: 1 }]);
    const b = await placed(user, [{ name: "Cup", price: "1.00", quantity: 4 }]);
    const rows = await writeEmails("order_refunded", sql`select unnest(${`{${b.orderId},2000000000,${a.orderId}}`}::int[])`);
    expect(rows.map((r) => r.order_id)).toEqual([a.orderId, b.orderId]);
    expect((await outboxOf(a.orderId, "order_refunded")).payload).toEqual(a.confirmation);
    expect((await outboxOf(b.orderId, "order_refunded")).payload).toEqual(b.confirmation);
  });

  it("refuses a kind the outbox does not know (the table's check), writing nothing", async () => {
    const user = await makeUser();
    const { orderId } = await placed(user, [{ name: "Jar", price: "4.00", quantity: 1 }]);
    const failure = await writeEmails("order_shipped" as EmailKind, sql`select ${orderId}::int`).then(
      () => null,
      (err: Error) => err,
    );
    // drizzle's error names the query; Postgres' own, its cause, names the constraint.
    expect(`${failure?.message} ${(failure?.cause as Error | undefined)?.message}`).toContain("email_outbox_kind_known");
    const { rows } = await db.execute(sql`select 1 from email_outbox where order_id = ${orderId} and kind <> 'order_confirmation'`);
    expect(rows).toEqual([]);
  });
});
