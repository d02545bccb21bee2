/**
 * Structured logs: one JSON object per line, which Workers Logs indexes by field. Every log line
 * of the Worker goes through here so they all share the same shape.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export function log(level: LogLevel, msg: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/**
 * An error's message and stack for the server-side log only (never for a response). drizzle's query
 * errors append the bound parameters ("params: a@b.com,…"); those can be personal data or password
 * hashes, so they are cut off: the SQL text and the Postgres error are enough to debug.
 */
export function errorFields(err: unknown): LogFields {
  if (!(err instanceof Error)) return { error: withoutParams(String(err)) };
  const fields: LogFields = { error: withoutParams(err.message), stack: err.stack && withoutParams(err.stack) };
  if (err.cause instanceof Error) fields.cause = err.cause.message;
  return fields;
}

function withoutParams(text: string): string {
  return text.replace(/\nparams: .*/g, "\nparams: [redacted]");
}
