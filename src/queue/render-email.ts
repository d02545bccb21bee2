import type { OrderEmailPayload } from "../services/email-outbox";
import type { OutgoingEmail } from "./email-api";
import { greetingName } from "./greeting-name";

/**
 * The order confirmation e-mail, plain text and HTML, from the outbox payload written with the order.
 * The customer's name is in the greeting only when it looks like a name (./greeting-name.ts).
 */
export function renderOrderConfirmation(payload: OrderEmailPayload, from: string): OutgoingEmail {
  const name = greetingName(payload.full_name);
  const greeting = name ? `Hello ${name},` : "Hello,";
  const placed = `${payload.created_at.replace("T", " ").slice(0, 16)} UTC`;
  const subject = `Your Tenpo order #${payload.order_id} is confirmed`;
  const lines = payload.items.map((item) => `  ${item.quantity} × ${item.name} (#${item.product_id}) at ${item.unit_price}`);
  const text = [
    greeting,
    "",
    `thank you for your order #${payload.order_id} of ${placed}. We have reserved:`,
    "",
    ...lines,
    "",
    `Total: ${payload.total_amount}`,
    "",
    "Tenpo",
  ].join("\n");
  const rows = payload.items
    .map(
      (item) =>
        `<tr><td>${item.quantity} ×</td><td>${escapeHtml(item.name)}</td><td style="text-align:right">${escapeHtml(item.unit_price)}</td></tr>`,
    )
    .join("");
  const html =
    `<p>${escapeHtml(greeting)}</p>` +
    `<p>thank you for your order #${payload.order_id} of ${escapeHtml(placed)}. We have reserved:</p>` +
    `<table>${rows}</table>` +
    `<p><strong>Total: ${escapeHtml(payload.total_amount)}</strong></p><p>Tenpo</p>`;
  return { from, to: payload.to, subject, text, html };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
