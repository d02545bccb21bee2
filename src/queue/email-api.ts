/**
 * The HTTP e-mail API the Worker sends through (Resend's shape; locally scripts/mail-sink.ts):
 *
 *   POST EMAIL_API_URL   Authorization: Bearer EMAIL_API_KEY   Idempotency-Key: <key>
 *   {"from", "to", "subject", "text", "html"?}  →  2xx {"id": "..."}
 *
 * The Idempotency-Key makes a repeated call (a consumer that crashed between sending and recording
 * the send) deliver the e-mail once: the provider answers the repeat without sending again.
 */

export type OutgoingEmail = { from: string; to: string; subject: string; text: string; html?: string };

export type EmailApiConfig = { EMAIL_API_URL?: string; EMAIL_API_KEY?: string };

const SEND_TIMEOUT_MS = 10_000;

/** A failed send; `permanent` when retrying the same request cannot help (the provider refused it). */
export class EmailApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = "EmailApiError";
  }
}

// 4xx means "this request is wrong", except these, which say "not now".
const RETRYABLE_CLIENT_STATUSES = new Set([408, 409, 425, 429]);

export async function sendEmail(config: EmailApiConfig, email: OutgoingEmail, idempotencyKey: string): Promise<{ id: string | null }> {
  if (!config.EMAIL_API_URL || !config.EMAIL_API_KEY) {
    // A configuration gap is fixed by deploying, so it is retried rather than given up on.
    throw new EmailApiError("EMAIL_API_URL or EMAIL_API_KEY is not configured", null, false);
  }
  let res: Response;
  try {
    res = await fetch(config.EMAIL_API_URL, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${config.EMAIL_API_KEY}`,
        "Content-Type": "application/json",
        "Idempotency-Key": idempotencyKey,
      },
      body: JSON.stringify(email),
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
  } catch (err) {
    throw new EmailApiError(`e-mail API unreachable: ${err instanceof Error ? err.message : String(err)}`, null, false);
  }
  const text = await res.text().catch(() => "");
  if (!res.ok) {
    const permanent = res.status >= 400 && res.status < 500 && !RETRYABLE_CLIENT_STATUSES.has(res.status);
    throw new EmailApiError(`e-mail API answered ${res.status}: ${text.slice(0, 300)}`, res.status, permanent);
  }
  try {
    const body = JSON.parse(text) as { id?: unknown };
    return { id: typeof body.id === "string" ? body.id : null };
  } catch {
    return { id: null };
  }
}
