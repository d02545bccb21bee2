/**
 * One Stripe account in test mode, in memory: its PaymentIntents, charges, refunds and the PaymentMethods
 * made from test cards, and what each endpoint does to them, with Stripe's validation and errors. Every
 * method runs synchronously from start to end, so two requests can never interleave inside one (racing
 * confirmations of one PaymentIntent charge it once, racing refunds never refund more than was paid).
 *
 * Each state change reports its event (`payment_intent.created`, `.succeeded`, `.payment_failed`,
 * `.canceled`, `charge.refunded`) to `emit`, with the object as it is at that moment.
 */
import { invalidRequest, missingParam, noSuch, refused, StripeFailure } from "./errors";
import type { FormParams } from "./form";
import {
  type ChargeJson,
  newCharge,
  newPaymentIntent,
  newPaymentMethod,
  newRefund,
  type PaymentIntentJson,
  type RefundJson,
  TEST_CARDS,
  type TestCard,
  unixNow,
} from "./objects";
import { allowOnly, booleanParam, enumParam, hashParam, integerParam, metadataParam, stringListParam, stringParam } from "./params";

/** The event types the stand-in sends. */
export type EventType =
  | "payment_intent.created"
  | "payment_intent.succeeded"
  | "payment_intent.payment_failed"
  | "payment_intent.canceled"
  | "charge.refunded";

/** Called for every event: its type, the object it carries, and the PaymentIntent it concerns. */
export type Emit = (type: EventType, object: PaymentIntentJson | ChargeJson, paymentIntentId: string) => void;

/** Stripe's largest amount for a PaymentIntent in a two-decimal currency: $999,999.99. */
const MAX_AMOUNT = 99_999_999;
/** Stripe's smallest charge per currency (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts); others: 1. */
const MIN_AMOUNT: Readonly<Record<string, number>> = { usd: 50, eur: 50, gbp: 30, cad: 50, aud: 50, chf: 50 };
const CANCELLATION_REASONS = ["duplicate", "fraudulent", "requested_by_customer", "abandoned"] as const;
const REFUND_REASONS = ["duplicate", "fraudulent", "requested_by_customer"] as const;
const MAX_LIST_LIMIT = 100;
const DEFAULT_LIST_LIMIT = 10;

interface PaymentMethodRecord {
  json: Record<string, unknown> & { id: string };
  card: TestCard;
}

/** A Stripe list, as every list endpoint answers. */
export interface StripeList<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  url: string;
}

/** One Stripe account in test mode, in memory (see the file header). */
export class Account {
  readonly #intents = new Map<string, PaymentIntentJson>();
  readonly #charges = new Map<string, ChargeJson>();
  readonly #refunds = new Map<string, RefundJson>();
  readonly #methods = new Map<string, PaymentMethodRecord>();

  constructor(private readonly emit: Emit) {}

  /** POST /v1/payment_intents */
  createPaymentIntent(params: FormParams): unknown {
    allowOnly(params, [
      "amount",
      "currency",
      "metadata",
      "description",
      "automatic_payment_methods",
      "payment_method_types",
      "payment_method",
      "confirm",
      "return_url",
    ]);
    const amount = integerParam(params, "amount", { required: true, min: 1 })!;
    const currency = currencyParam(params);
    checkAmountRange(amount, currency);
    const automatic = hashParam(params, "automatic_payment_methods");
    let automaticEnabled: boolean | undefined;
    if (automatic) {
      allowOnly(automatic, ["enabled", "allow_redirects"], "automatic_payment_methods");
      automaticEnabled = booleanParam(automatic.enabled, "automatic_payment_methods[enabled]");
      if (automaticEnabled === undefined) throw missingParam("automatic_payment_methods[enabled]");
    }
    const types = stringListParam(params, "payment_method_types");
    for (const type of types ?? []) {
      if (type !== "card") {
        throw invalidRequest(`The payment method type provided: ${type} is invalid. The Tenpo Stripe stand-in supports card only.`, {
          param: "payment_method_types",
        });
      }
    }
    if (types && automaticEnabled) {
      throw invalidRequest("You may only specify one of these parameters: automatic_payment_methods, payment_method_types.", {
        param: "automatic_payment_methods",
      });
    }
    const description = stringParam(params, "description", { maxLength: 1000 }) ?? null;
    const metadata = metadataParam(params);
    const method = this.#paymentMethodParam(params);
    const confirm = booleanParam(params.confirm, "confirm") ?? false;
    stringParam(params, "return_url", { maxLength: 5000 });
    if (confirm && !method) throw missingParam("payment_method");
    const expand = expandParam(params);

    const pi = newPaymentIntent({
      amount,
      currency,
      metadata,
      description,
      automaticPaymentMethods: types === undefined && automaticEnabled !== false,
    });
    if (method) {
      pi.payment_method = method.json.id;
      pi.status = "requires_confirmation";
    }
    this.#intents.set(pi.id, pi);
    this.emit("payment_intent.created", pi, pi.id);
    if (confirm && method) this.#charge(pi, method);
    return this.#expandPaymentIntent(pi, expand);
  }

  /** GET /v1/payment_intents/:id */
  retrievePaymentIntent(id: string, params: FormParams): unknown {
    allowOnly(params, ["client_secret"]);
    const pi = this.#paymentIntent(id);
    const secret = stringParam(params, "client_secret");
    if (secret !== undefined && secret !== pi.client_secret) {
      throw invalidRequest("The client_secret provided does not match the client_secret associated with the PaymentIntent.", {
        param: "client_secret",
      });
    }
    return this.#expandPaymentIntent(pi, expandParam(params));
  }

  /** POST /v1/payment_intents/:id/confirm */
  confirmPaymentIntent(id: string, params: FormParams): unknown {
    allowOnly(params, ["payment_method", "return_url"]);
    const pi = this.#paymentIntent(id);
    const given = this.#paymentMethodParam(params);
    stringParam(params, "return_url", { maxLength: 5000 });
    const expand = expandParam(params);
    if (pi.status === "succeeded") {
      throw refused(
        "You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.",
        "payment_intent_unexpected_state",
        { payment_intent: copy(pi) },
      );
    }
    if (pi.status === "canceled") {
      throw refused(
        "You cannot confirm this PaymentIntent because it has a status of canceled. Only a PaymentIntent with one of the " +
          "following statuses may be confirmed: requires_confirmation, requires_action, requires_payment_method.",
        "payment_intent_unexpected_state",
        { payment_intent: copy(pi) },
      );
    }
    const method = given ?? (pi.payment_method ? this.#methods.get(pi.payment_method) : undefined);
    if (!method) {
      throw refused(
        "You cannot confirm this PaymentIntent because it's missing a payment method. Update the PaymentIntent with a " +
          "payment method and then confirm it again.",
        "payment_intent_unexpected_state",
        { payment_intent: copy(pi) },
      );
    }
    this.#charge(pi, method);
    return this.#expandPaymentIntent(pi, expand);
  }

  /** POST /v1/payment_intents/:id/cancel */
  cancelPaymentIntent(id: string, params: FormParams): unknown {
    allowOnly(params, ["cancellation_reason"]);
    const pi = this.#paymentIntent(id);
    const reason = enumParam(params, "cancellation_reason", CANCELLATION_REASONS) ?? null;
    const expand = expandParam(params);
    if (pi.status === "succeeded" || pi.status === "canceled") {
      throw refused(
        `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the ` +
          "following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.",
        "payment_intent_unexpected_state",
        { payment_intent: copy(pi) },
      );
    }
    pi.status = "canceled";
    pi.canceled_at = unixNow();
    pi.cancellation_reason = reason;
    this.emit("payment_intent.canceled", pi, pi.id);
    return this.#expandPaymentIntent(pi, expand);
  }

  /** POST /v1/refunds */
  createRefund(params: FormParams): unknown {
    allowOnly(params, ["payment_intent", "charge", "amount", "reason", "metadata"]);
    const paymentIntentId = stringParam(params, "payment_intent");
    const chargeId = stringParam(params, "charge");
    if (paymentIntentId === undefined && chargeId === undefined) {
      throw invalidRequest("One of the following params should be provided for this request: payment_intent or charge.", {
        code: "parameter_missing",
      });
    }
    if (paymentIntentId !== undefined && chargeId !== undefined) {
      throw invalidRequest("You may only specify one of these parameters: charge, payment_intent.", { param: "charge" });
    }
    const requested = integerParam(params, "amount", { min: 1 });
    const reason = enumParam(params, "reason", REFUND_REASONS) ?? null;
    const metadata = metadataParam(params);
    const expand = expandParam(params);

    let charge: ChargeJson | undefined;
    if (paymentIntentId !== undefined) {
      const pi = this.#intents.get(paymentIntentId);
      if (!pi) throw noSuch("payment_intent", paymentIntentId, "payment_intent");
      if (pi.status !== "succeeded" || !pi.latest_charge) {
        throw refused(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, "charge_not_refundable");
      }
      charge = this.#charges.get(pi.latest_charge)!;
    } else {
      charge = this.#charges.get(chargeId!);
      if (!charge) throw noSuch("charge", chargeId!, "charge");
      if (charge.status !== "succeeded") throw refused(`Charge ${charge.id} has failed and cannot be refunded.`, "charge_not_refundable");
    }
    const left = charge.amount - charge.amount_refunded;
    if (left === 0) throw refused(`Charge ${charge.id} has already been refunded.`, "charge_already_refunded");
    const amount = requested ?? left;
    if (amount > left) {
      throw refused(
        `Refund amount (${money(amount, charge.currency)}) is greater than unrefunded amount on charge (${money(left, charge.currency)})`,
        "amount_too_large",
        { param: "amount" },
      );
    }
    const refund = newRefund(charge, { amount, reason, metadata });
    this.#refunds.set(refund.id, refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount;
    this.emit("charge.refunded", charge, charge.payment_intent);
    return this.#expandRefund(refund, expand);
  }

  /** GET /v1/refunds/:id */
  retrieveRefund(id: string, params: FormParams): unknown {
    allowOnly(params, []);
    const refund = this.#refunds.get(id);
    if (!refund) throw noSuch("refund", id, "id", 404);
    return this.#expandRefund(refund, expandParam(params));
  }

  /** GET /v1/refunds (newest first; `payment_intent`, `charge`, `limit`, `starting_after`) */
  listRefunds(params: FormParams): StripeList<unknown> {
    allowOnly(params, ["payment_intent", "charge", "limit", "starting_after"]);
    const paymentIntentId = stringParam(params, "payment_intent");
    const chargeId = stringParam(params, "charge");
    const limit = integerParam(params, "limit", { min: 1 }) ?? DEFAULT_LIST_LIMIT;
    if (limit > MAX_LIST_LIMIT) {
      throw invalidRequest(`This value must be less than or equal to ${MAX_LIST_LIMIT}.`, {
        code: "parameter_invalid_integer",
        param: "limit",
      });
    }
    const startingAfter = stringParam(params, "starting_after");
    const expand = (expandParam(params) ?? []).map((path) => {
      if (!path.startsWith("data.")) throw cannotExpand(path);
      return path.slice("data.".length);
    });
    let refunds = [...this.#refunds.values()]
      .reverse()
      .filter(
        (r) => (paymentIntentId === undefined || r.payment_intent === paymentIntentId) && (chargeId === undefined || r.charge === chargeId),
      );
    if (startingAfter !== undefined) {
      const index = refunds.findIndex((r) => r.id === startingAfter);
      if (index < 0) throw noSuch("refund", startingAfter, "starting_after");
      refunds = refunds.slice(index + 1);
    }
    return {
      object: "list",
      data: refunds.slice(0, limit).map((r) => this.#expandRefund(r, expand)),
      has_more: refunds.length > limit,
      url: "/v1/refunds",
    };
  }

  /** GET /v1/charges/:id */
  retrieveCharge(id: string, params: FormParams): unknown {
    allowOnly(params, []);
    const charge = this.#charges.get(id);
    if (!charge) throw noSuch("charge", id, "id", 404);
    for (const path of expandParam(params) ?? []) throw cannotExpand(path);
    return charge;
  }

  /** The PaymentIntents whose metadata.order_id is `orderId` (every one without it), oldest first. */
  paymentIntents(orderId?: string): PaymentIntentJson[] {
    return [...this.#intents.values()].filter((pi) => orderId === undefined || pi.metadata.order_id === orderId);
  }

  /** Charges the PaymentIntent with its PaymentMethod: succeeded, or declined (402, kept for the key). */
  #charge(pi: PaymentIntentJson, method: PaymentMethodRecord): void {
    const charge = newCharge(pi, method.json.id, method.card);
    this.#charges.set(charge.id, charge);
    pi.latest_charge = charge.id;
    const decline = method.card.decline;
    if (!decline) {
      pi.status = "succeeded";
      pi.amount_received = pi.amount;
      pi.payment_method = method.json.id;
      pi.last_payment_error = null;
      this.emit("payment_intent.succeeded", pi, pi.id);
      return;
    }
    const error = {
      charge: charge.id,
      code: decline.code,
      decline_code: decline.decline_code,
      doc_url: "https://stripe.com/docs/error-codes/card-declined",
      message: decline.message,
      payment_method: method.json,
      type: "card_error" as const,
    };
    // As Stripe: the failed PaymentMethod is detached and the PaymentIntent waits for another.
    pi.status = "requires_payment_method";
    pi.payment_method = null;
    pi.last_payment_error = error;
    this.emit("payment_intent.payment_failed", pi, pi.id);
    throw new StripeFailure(402, { ...error, payment_intent: copy(pi) }, true);
  }

  #paymentIntent(id: string): PaymentIntentJson {
    const pi = this.#intents.get(id);
    if (!pi) throw noSuch("payment_intent", id, "intent", 404);
    return pi;
  }

  /** `payment_method`: a test card's name (a new PaymentMethod each time, as Stripe) or one made before. */
  #paymentMethodParam(params: FormParams): PaymentMethodRecord | undefined {
    const name = stringParam(params, "payment_method");
    if (name === undefined) return undefined;
    const card = TEST_CARDS[name];
    if (card) {
      const record = { json: newPaymentMethod(card), card };
      this.#methods.set(record.json.id, record);
      return record;
    }
    const known = this.#methods.get(name);
    if (!known) throw noSuch("PaymentMethod", name, "payment_method");
    return known;
  }

  #expandPaymentIntent(pi: PaymentIntentJson, expand: string[] | undefined): unknown {
    if (!expand?.length) return pi;
    const out: Record<string, unknown> = { ...pi };
    for (const path of expand) {
      if (path === "latest_charge") out.latest_charge = pi.latest_charge ? this.#charges.get(pi.latest_charge) : null;
      else if (path === "payment_method") out.payment_method = pi.payment_method ? this.#methods.get(pi.payment_method)?.json : null;
      else throw cannotExpand(path);
    }
    return out;
  }

  #expandRefund(refund: RefundJson, expand: string[] | undefined): unknown {
    if (!expand?.length) return refund;
    const out: Record<string, unknown> = { ...refund };
    for (const path of expand) {
      if (path === "charge") out.charge = this.#charges.get(refund.charge);
      else if (path === "payment_intent") out.payment_intent = this.#intents.get(refund.payment_intent);
      else throw cannotExpand(path);
    }
    return out;
  }
}

function currencyParam(params: FormParams): string {
  const currency = stringParam(params, "currency", { required: true });
  if (!/^[a-z]{3}$/i.test(currency)) {
    throw invalidRequest(`Invalid currency: ${currency.toLowerCase()}. Stripe currently supports three-letter ISO currency codes.`, {
      param: "currency",
    });
  }
  return currency.toLowerCase();
}

function checkAmountRange(amount: number, currency: string): void {
  const min = MIN_AMOUNT[currency] ?? 1;
  if (amount < min) {
    throw invalidRequest(`Amount must be at least ${money(min, currency)}${currency === "usd" ? " usd" : ""}`, {
      code: "amount_too_small",
      param: "amount",
    });
  }
  if (amount > MAX_AMOUNT) {
    throw invalidRequest(`Amount must be no more than ${money(MAX_AMOUNT, currency)}`, { code: "amount_too_large", param: "amount" });
  }
}

function expandParam(params: FormParams): string[] | undefined {
  return stringListParam(params, "expand");
}

function cannotExpand(path: string): StripeFailure {
  return invalidRequest(`This property cannot be expanded (${path}).`, { param: "expand" });
}

/** An amount in a two-decimal currency as Stripe's messages write it: `$12.34`, `12.34 eur`. */
function money(amount: number, currency: string): string {
  const major = (amount / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency === "usd" ? `$${major}` : `${major} ${currency}`;
}

/** A snapshot of a PaymentIntent for an error body (the stored one changes later). */
function copy(pi: PaymentIntentJson): PaymentIntentJson {
  return structuredClone(pi);
}
