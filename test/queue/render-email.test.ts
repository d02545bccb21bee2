import { describe, expect, it } from "vitest";
import { emailKinds } from "../../src/db/schema";
import { renderOrderCancellation, renderOrderConfirmation, renderOrderEmail, renderOrderRefund } from "../../src/queue/render-email";
import type { OrderEmailPayload } from "../../src/services/email-outbox";
import { placeOrder } from "../../src/services/order-placement";
import { makeUser } from "../support/accounts";
import { makeProducts } from "../support/catalog";
import { db } from "../support/db";
import { mailTo } from "../support/orders";
import { deliver, QUEUE } from "../support/queue";

// The order e-mails as they are sent (the confirmation, the cancellation, the refund): the customer's
// name only where it is a name, everything the customer or an admin typed escaped in the HTML. A
// phishing text registered as the name of someone else's address must not reach either body: such an
// e-mail reads exactly as one without a name.

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

describe("the cancellation e-mail", () => {
  it("says the order is cancelled and its items released, with the lines and the total; nothing about money", () => {
    const email = renderOrderCancellation(payload("Ann"), FROM);
    expect(email).toMatchObject({ from: FROM, to: "ann@example.com", subject: "Your Tenpo order #42 is cancelled" });
    expect(email.text).toBe(
      [
        "Hello Ann,",
        "",
        "your order #42 of 2026-11-28 06:43 UTC is cancelled. We have released the items we had reserved for it:",
        "",
        "  3 × Tea <Pot> & Cup (#7) at 7.00",
        "",
        "Order total: 21.00",
        "",
        "Tenpo",
      ].join("\n"),
    );
    for (const body of [email.text, email.html ?? ""]) expect(body).not.toMatch(/charge|refund|paid|payment/i);
  });

  it("escapes product names in the HTML", () => {
    const { html } = renderOrderCancellation(payload(null), FROM);
    expect(html).toBe(
      "<p>Hello,</p><p>your order #42 of 2026-11-28 06:43 UTC is cancelled. We have released the items we had reserved for it:</p>" +
        '<table><tr><td>3 ×</td><td>Tea &#60;Pot&#62; &#38; Cup</td><td style="text-align:right">7.00</td></tr></table>' +
        "<p><strong>Order total: 21.00</strong></p><p>Tenpo</p>",
    );
  });
});

describe("the refund e-mail", () => {
  it("says the order is refunded in full: the amount (its total), the lines, and when the money shows", () => {
    const email = renderOrderRefund(payload(null), FROM);
    expect(email).toMatchObject({ from: FROM, to: "ann@example.com", subject: "Your Tenpo order #42 is refunded" });
    expect(email.text).toBe(
      [
        "Hello,",
        "",
        "your order #42 of 2026-11-28 06:43 UTC is refunded in full. The order was:",
        "",
        "  3 × Tea <Pot> & Cup (#7) at 7.00",
        "",
        "Refunded: 21.00",
        "",
        "The refund goes back to the card you paid with. Depending on your bank, it takes 5–10 business days to show on your statement.",
        "",
        "Tenpo",
      ].join("\n"),
    );
    expect(email.html).toContain("<p><strong>Refunded: 21.00</strong></p><p>The refund goes back to the card you paid with.");
    expect(email.html).toContain("<td>Tea &#60;Pot&#62; &#38; Cup</td>");
    expect(email.html).not.toContain("<Pot>");
  });
});

describe("every kind of order e-mail", () => {
  it("is picked by the outbox row's kind", () => {
    expect(renderOrderEmail("order_confirmation", payload(null), FROM)).toEqual(renderOrderConfirmation(payload(null), FROM));
    expect(renderOrderEmail("order_cancelled", payload(null), FROM)).toEqual(renderOrderCancellation(payload(null), FROM));
    expect(renderOrderEmail("order_refunded", payload(null), FROM)).toEqual(renderOrderRefund(payload(null), FROM));
  });

  it.each(emailKinds.flatMap((kind) => PHISHING.map((name) => [kind, JSON.stringify(name).slice(0, 40), name] as const)))(
    "%s: a phishing name never reaches the e-mail: %s",
    (kind, _, name) => {
      const email = renderOrderEmail(kind, payload(name), FROM);
      expect(email).toEqual(renderOrderEmail(kind, payload(null), FROM));
      for (const part of ["evil", "password", "locked", "Buyer", "reply"]) {
        expect(email.text).not.toContain(part);
        expect(email.html).not.toContain(part);
      }
    },
  );

  it.each(emailKinds)("%s: greets by name, escaped in the HTML", (kind) => {
    const email = renderOrderEmail(kind, payload("José María O'Neil-Smith"), FROM);
    expect(email.text.split("\n")[0]).toBe("Hello José María O'Neil-Smith,");
    expect(email.html).toMatch(/^<p>Hello José María O&#39;Neil-Smith,<\/p>/);
  });
});
