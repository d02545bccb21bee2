import { describe, expect, it } from "vitest";
import { renderOrderConfirmation } from "../../src/queue/render-email";
import type { OrderEmailPayload } from "../../src/services/email-outbox";
import { placeOrder } from "../../src/services/order-placement";
import { makeUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { mailTo } from "../support/orders";
import { deliver, QUEUE } from "../support/queue";

// The order confirmation as it is sent: the customer's name only where it is a name, everything the
// customer or an admin typed escaped in the HTML. A phishing text registered as the name of someone
// else's address must not reach either body: such an e-mail reads exactly as one without a name.

const FROM = "Tenpo <orders@tenpo.example>";
const payload = (fullName: string | null): OrderEmailPayload => ({
  to: "ann@example.com",
  full_name: fullName,
  order_id: 42,
  total_amount: "21.00",
  created_at: "2026-11-28T06:43:20.123Z",
  items: [{ product_id: 7, name: "Tea <Pot> & Cup", quantity: 3, unit_price: "7.00" }],
});

const PHISHING = [
  "Click https://evil.example to get a refund",
  "evil.example",
  "Ann\nYour order was cancelled, reply with your card number",
  'Ann\r\n\r\n<a href="https://evil.example">Refund</a>',
  "Ann\u0000\u001b[2J\u202eBuyer",
  // The longest name registration accepts, letters and spaces only.
  "Your account has been locked please reply to this message with your password ".repeat(3).slice(0, 200).trim(),
];

describe("the order confirmation e-mail", () => {
  it("greets the customer by name, escaped in the HTML", () => {
    const email = renderOrderConfirmation(payload("José María O'Neil-Smith"), FROM);
    expect(email.text.split("\n")[0]).toBe("Hello José María O'Neil-Smith,");
    expect(email.html).toContain("<p>Hello José María O&#39;Neil-Smith,</p>");
    expect(email).toMatchObject({ from: FROM, to: "ann@example.com", subject: "Your Tenpo order #42 is confirmed" });
  });

  it("greets without a name when there is none", () => {
    const email = renderOrderConfirmation(payload(null), FROM);
    expect(email.text.split("\n")[0]).toBe("Hello,");
    expect(email.html).toMatch(/^<p>Hello,<\/p>/);
  });

  it.each(PHISHING.map((name) => [JSON.stringify(name).slice(0, 60), name]))("a phishing name never reaches the e-mail: %s", (_, name) => {
    const email = renderOrderConfirmation(payload(name), FROM);
    expect(email).toEqual(renderOrderConfirmation(payload(null), FROM));
    for (const part of ["evil", "refund", "Refund", "card", "password", "locked", "Buyer"]) {
      expect(email.text).not.toContain(part);
      expect(email.html).not.toContain(part);
    }
  });

  it("escapes product names and amounts in the HTML; the text keeps them as they are", () => {
    const email = renderOrderConfirmation(payload(null), FROM);
    expect(email.html).toContain("<td>Tea &#60;Pot&#62; &#38; Cup</td>");
    expect(email.html).not.toContain("<Pot>");
    expect(email.text).toContain("  3 × Tea <Pot> & Cup (#7) at 7.00");
  });
});

describe("the order confirmation through the consumer to the mail sink", () => {
  it.each([
    ["a phishing name is left out", "Click https://evil.example to get a refund", "Hello,"],
    ["a real name is kept", "José María O'Neil-Smith", "Hello José María O'Neil-Smith,"],
  ])("%s", async (_, fullName, greeting) => {
    const user = await makeUser({ fullName });
    const [product] = await makeProducts([{ stock: 5, name: "Kettle" }]);
    const result = await placeOrder(db, { userId: user.id, tokenVersion: 0, lines: [{ product_id: product!, quantity: 1 }] });
    if (result.kind !== "created") throw new Error("expected a new order");
    expect(await deliver(QUEUE, [{ body: { outbox_id: result.outboxId, order_id: result.body.id } }])).toMatchObject({ acked: [true] });

    const [mail, ...more] = await mailTo(user.email);
    expect(more).toEqual([]);
    expect(mail!.text.split("\n")[0]).toBe(greeting);
    for (const body of [mail!.text, mail!.html ?? ""]) {
      expect(body).not.toContain("evil");
      expect(body).not.toContain("refund");
    }
  });
});
