import type { EmailKind } from "../db/schema";
import type { OrderEmailPayload } from "../services/email-outbox";
import type { OutgoingEmail } from "./email-api";
import { greetingName } from "./greeting-name";

/**
 * The order e-mails, plain text and HTML, from the outbox payload written with the change they tell
 * of: the confirmation, the cancellation and the refund. Each says only what is certain when its row
 * is written. The customer's name is in the greeting only when it looks like a name
 * (./greeting-name.ts); everything the customer or an admin typed is escaped in the HTML.
 */

/** Renders one kind of order e-mail. */
export type OrderEmailRenderer = (payload: OrderEmailPayload, from: string) => OutgoingEmail;

/** The e-mail of an outbox row of `kind`. */
export function renderOrderEmail(kind: EmailKind, payload: OrderEmailPayload, from: string): OutgoingEmail {
  return RENDERERS[kind](payload, from);
}

/** The confirmation: the order is placed (or paid) and its items are reserved. */
export function renderOrderConfirmation(payload: OrderEmailPayload, from: string): OutgoingEmail {
  return compose(payload, from, {
    subject: `Your Tenpo order #${payload.order_id} is confirmed`,
    opening: `thank you for your order #${payload.order_id} of ${placedAt(payload)}. We have reserved:`,
    total: `Total: ${payload.total_amount}`,
  });
}

/**
 * The cancellation: the order is cancelled and its items are released. Nothing about money: the
 * row cannot know whether a payment is still under way (an order awaiting payment may be cancelled
 * while the customer pays), and what becomes of a payment gets an e-mail of its own (the refund).
 */
export function renderOrderCancellation(payload: OrderEmailPayload, from: string): OutgoingEmail {
  return compose(payload, from, {
    subject: `Your Tenpo order #${payload.order_id} is cancelled`,
    opening: `your order #${payload.order_id} of ${placedAt(payload)} is cancelled. We have released the items we had reserved for it:`,
    total: `Order total: ${payload.total_amount}`,
  });
}

/**
 * The refund: the order's whole total goes back to the card it was paid with. How long a refund
 * takes to show is the bank's part; Stripe's own figure for it is 5–10 business days.
 */
export function renderOrderRefund(payload: OrderEmailPayload, from: string): OutgoingEmail {
  return compose(payload, from, {
    subject: `Your Tenpo order #${payload.order_id} is refunded`,
    opening: `your order #${payload.order_id} of ${placedAt(payload)} is refunded in full. The order was:`,
    total: `Refunded: ${payload.total_amount}`,
    closing:
      "The refund goes back to the card you paid with. Depending on your bank, it takes 5–10 business days to show on your statement.",
  });
}

const RENDERERS: Record<EmailKind, OrderEmailRenderer> = {
  order_confirmation: renderOrderConfirmation,
  order_cancelled: renderOrderCancellation,
  order_refunded: renderOrderRefund,
};

/** What sets one kind of order e-mail apart; the greeting, the lines and the signature are the same for all. */
type Wording = { subject: string; opening: string; total: string; closing?: string };

function compose(payload: OrderEmailPayload, from: string, wording: Wording): OutgoingEmail {
  const name = greetingName(payload.full_name);
  const greeting = name ? `Hello ${name},` : "Hello,";
  const lines = payload.items.map((item) => `  ${item.quantity} × ${item.name} (#${item.product_id}) at ${item.unit_price}`);
  const closing = wording.closing === undefined ? [] : [wording.closing, ""];
  const text = [greeting, "", wording.opening, "", ...lines, "", wording.total, "", ...closing, "Tenpo"].join("\n");
  const rows = payload.items
    .map(
      (item) =>
        `<tr><td>${item.quantity} ×</td><td>${escapeHtml(item.name)}</td><td style="text-align:right">${escapeHtml(item.unit_price)}</td></tr>`,
    )
    .join("");
  const html =
    `<p>${escapeHtml(greeting)}</p>` +
    `<p>${escapeHtml(wording.opening)}</p>` +
    `<table>${rows}</table>` +
    `<p><strong>${escapeHtml(wording.total)}</strong></p>` +
    (wording.closing === undefined ? "" : `<p>${escapeHtml(wording.closing)}</p>`) +
    "<p>Tenpo</p>";
  return { from, to: payload.to, subject: wording.subject, text, html };
}

/** When the order was placed, as the e-mails say it ("2026-11-28 06:43 UTC"). */
function placedAt(payload: OrderEmailPayload): string {
  return `${payload.created_at.replace("T", " ").slice(0, 16)} UTC`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
