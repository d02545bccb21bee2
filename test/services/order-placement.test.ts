import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { placeOrder } from "../../src/services/order-placement";
import { makeUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { stockOf } from "../support/orders";

// Order placement against the real database, below the HTTP layer: the order and its e-mail job are
// written together or not at all, and the database itself refuses negative stock.

describe("placeOrder writes the order and its e-mail job in one statement", () => {
  it("a placed order has exactly one outbox row, with what the e-mail needs", async () => {
    const user = await makeUser({ fullName: "Outbox Owner" });
    const [a, b] = await makeProducts([
      { stock: 5, price: "1.25", name: "Pen" },
      { stock: 5, price: "2.00", name: "Ink" },
    ]);
    const result = await placeOrder(db, {
      userId: user.id,
      tokenVersion: 0,
      lines: [
        { product_id: b!, quantity: 1 },
        { product_id: a!, quantity: 2 },
      ],
    });
    if (result.kind !== "created") throw new Error("expected a new order");
    const { rows } = await db.execute<{ id: number; kind: string; payload: unknown; sent_at: string | null; enqueued_at: string | null }>(
      sql`select id, kind, payload, sent_at, enqueued_at from email_outbox where order_id = ${result.body.id}`,
    );
    expect(rows).toEqual([
      {
        id: result.outboxId,
        kind: "order_confirmation",
        sent_at: null,
        enqueued_at: null,
        payload: {
          to: user.email,
          full_name: "Outbox Owner",
          order_id: result.body.id,
          total_amount: "4.50",
          created_at: result.body.created_at,
          items: [
            { product_id: b, name: "Ink", quantity: 1, unit_price: "2.00" },
            { product_id: a, name: "Pen", quantity: 2, unit_price: "1.25" },
          ],
        },
      },
    ]);
  });

  it("a refused order writes nothing: no order, no lines, no outbox row, no stock change", async () => {
    const user = await makeUser();
    const [a, b] = await makeProducts([{ stock: 5 }, { stock: 1 }]);
    await expect(
      placeOrder(db, {
        userId: user.id,
        tokenVersion: 0,
        lines: [
          { product_id: a!, quantity: 1 },
          { product_id: b!, quantity: 2 },
        ],
      }),
    ).rejects.toMatchObject({ status: 409, code: "insufficient_stock" });
    const { rows } = await db.execute<{ orders: number; outbox: number }>(sql`
      select (select count(*)::int from orders where user_id = ${user.id}) as orders,
        (select count(*)::int from email_outbox x join orders o on o.id = x.order_id where o.user_id = ${user.id}) as outbox
    `);
    expect(rows[0]).toEqual({ orders: 0, outbox: 0 });
    expect([await stockOf(a!), await stockOf(b!)]).toEqual([5, 1]);
  });

  it("the database refuses negative stock whatever the code does (the backstop)", async () => {
    const [a] = await makeProducts([{ stock: 1 }]);
    await expect(db.execute(sql`update products set stock = stock - 2 where id = ${a!}`)).rejects.toThrow();
    expect(await stockOf(a!)).toBe(1);
  });
});
