/**
 * The JSON of the Stripe objects the stand-in keeps, field for field as Stripe answers them (the
 * official SDK's types, `Stripe.PaymentIntent`, `Stripe.Charge`, `Stripe.Refund`, `Stripe.PaymentMethod`,
 * name the fields): every field Stripe always sends is present, null where it does not apply here.
 */
import { randomBytes } from "node:crypto";

const ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A Stripe-looking id: `pi_…`, `ch_…`, `re_…`, `evt_…`, `req_…` with `length` random letters and digits. */
export function newId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let id = "";
  // 62 letters: a byte modulo 62 is very slightly uneven, which no id here cares about.
  for (const byte of bytes) id += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return `${prefix}_${id}`;
}

/** Seconds since the epoch, as Stripe's `created` fields are. */
export const unixNow = (): number => Math.floor(Date.now() / 1000);

export type PaymentIntentStatus =
  | "requires_payment_method"
  | "requires_confirmation"
  | "requires_action"
  | "processing"
  | "requires_capture"
  | "succeeded"
  | "canceled";

/** The PaymentIntent fields the stand-in changes; the rest are as `newPaymentIntent` sets them. */
export interface PaymentIntentJson {
  id: string;
  object: "payment_intent";
  amount: number;
  amount_received: number;
  currency: string;
  status: PaymentIntentStatus;
  metadata: Record<string, string>;
  description: string | null;
  canceled_at: number | null;
  cancellation_reason: string | null;
  last_payment_error: Record<string, unknown> | null;
  latest_charge: string | null;
  payment_method: string | null;
  [field: string]: unknown;
}

/** A new PaymentIntent, `requires_payment_method`, as POST /v1/payment_intents answers it. */
export function newPaymentIntent(fields: {
  amount: number;
  currency: string;
  metadata: Record<string, string>;
  description: string | null;
  automaticPaymentMethods: boolean;
}): PaymentIntentJson {
  const id = newId("pi");
  return {
    id,
    object: "payment_intent",
    allowed_payment_method_types: null,
    amount: fields.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: fields.automaticPaymentMethods ? { allow_redirects: "always", enabled: true } : null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: "automatic_async",
    client_secret: `${id}_secret_${newId("x").slice(2)}`,
    confirmation_method: "automatic",
    created: unixNow(),
    currency: fields.currency,
    customer: null,
    customer_account: null,
    description: fields.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: fields.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: "automatic" },
    },
    payment_method_types: ["card"],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: "requires_payment_method",
    transfer_data: null,
    transfer_group: null,
  };
}

/** What a test card does when charged (Stripe's test PaymentMethods, https://docs.stripe.com/testing). */
export interface TestCard {
  last4: string;
  /** Absent: the charge succeeds. */
  decline?: { code: "card_declined"; decline_code: string; message: string };
}

/** The test PaymentMethods the stand-in knows, by the name a test passes as `payment_method`. */
export const TEST_CARDS: Readonly<Record<string, TestCard>> = {
  pm_card_visa: { last4: "4242" },
  pm_card_chargeDeclined: {
    last4: "0002",
    decline: { code: "card_declined", decline_code: "generic_decline", message: "Your card was declined." },
  },
  pm_card_visa_chargeDeclinedInsufficientFunds: {
    last4: "9995",
    decline: { code: "card_declined", decline_code: "insufficient_funds", message: "Your card has insufficient funds." },
  },
};

const EMPTY_ADDRESS = { city: null, country: null, line1: null, line2: null, postal_code: null, state: null };
const EMPTY_BILLING_DETAILS = { address: EMPTY_ADDRESS, email: null, name: null, phone: null, tax_id: null };
const EXPIRY_YEAR = new Date().getUTCFullYear() + 3;

/** A PaymentMethod made from a test card (Stripe makes a new `pm_…` each time a test name is used). */
export function newPaymentMethod(card: TestCard): Record<string, unknown> & { id: string } {
  return {
    id: newId("pm"),
    object: "payment_method",
    allow_redisplay: "unspecified",
    billing_details: EMPTY_BILLING_DETAILS,
    card: cardDetails(card),
    created: unixNow(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: "card",
  };
}

function cardDetails(card: TestCard): Record<string, unknown> {
  return {
    brand: "visa",
    checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
    country: "US",
    display_brand: "visa",
    exp_month: 12,
    exp_year: EXPIRY_YEAR,
    fingerprint: `tenpo${card.last4}`,
    funding: "credit",
    last4: card.last4,
    networks: { available: ["visa"], preferred: null },
    wallet: null,
  };
}

/** The Charge fields the stand-in changes. */
export interface ChargeJson {
  id: string;
  object: "charge";
  amount: number;
  amount_refunded: number;
  currency: string;
  payment_intent: string;
  payment_method: string;
  refunded: boolean;
  status: "succeeded" | "failed";
  [field: string]: unknown;
}

/** The charge a confirmation makes: succeeded, or failed with the test card's decline. */
export function newCharge(pi: PaymentIntentJson, paymentMethodId: string, card: TestCard): ChargeJson {
  const declined = card.decline !== undefined;
  return {
    id: newId("ch"),
    object: "charge",
    amount: pi.amount,
    amount_captured: declined ? 0 : pi.amount,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: declined ? null : newId("txn"),
    billing_details: EMPTY_BILLING_DETAILS,
    calculated_statement_descriptor: "TENPO",
    captured: !declined,
    created: unixNow(),
    currency: pi.currency,
    customer: null,
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: card.decline?.code ?? null,
    failure_message: card.decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: { ...pi.metadata },
    on_behalf_of: null,
    outcome: card.decline
      ? {
          network_status: "declined_by_network",
          reason: card.decline.decline_code,
          risk_level: "normal",
          seller_message: "The bank did not return any further details with this decline.",
          type: "issuer_declined",
        }
      : {
          network_status: "approved_by_network",
          reason: null,
          risk_level: "normal",
          seller_message: "Payment complete.",
          type: "authorized",
        },
    paid: !declined,
    payment_intent: pi.id,
    payment_method: paymentMethodId,
    payment_method_details: { card: cardDetails(card), type: "card" },
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: declined ? "failed" : "succeeded",
    transfer_data: null,
    transfer_group: null,
  };
}

/** The Refund fields the stand-in reads back. */
export interface RefundJson {
  id: string;
  object: "refund";
  amount: number;
  charge: string;
  payment_intent: string;
  created: number;
  [field: string]: unknown;
}

/** A refund of `fields.amount` of `charge`, succeeded at once (as card refunds in test mode are). */
export function newRefund(
  charge: ChargeJson,
  fields: { amount: number; reason: string | null; metadata: Record<string, string> },
): RefundJson {
  return {
    id: newId("re"),
    object: "refund",
    amount: fields.amount,
    balance_transaction: newId("txn"),
    charge: charge.id,
    created: unixNow(),
    currency: charge.currency,
    customer: null,
    customer_account: null,
    destination_details: {
      card: { reference_status: "pending", reference_type: "acquirer_reference_number", type: "refund" },
      type: "card",
    },
    metadata: fields.metadata,
    payment_intent: charge.payment_intent,
    payment_method: charge.payment_method,
    reason: fields.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: "succeeded",
    transfer_reversal: null,
  };
}
