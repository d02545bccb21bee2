/**
 * The one JSON line each queue message ends in (src/queue/job-log.ts): the job fields, the level per
 * outcome, and the order's fields once the body is an order e-mail message.
 */
import { describe, expect, it } from "vitest";
import { errorFields } from "../../src/observability/logging";
import { ORDER_EMAIL_JOB, jobLog } from "../../src/queue/job-log";
import { captureConsole } from "../support/console";

const output = captureConsole();

const lines = () => output.map((o) => JSON.parse(o.text) as Record<string, unknown>);

function message(body: unknown, attempts = 1): Message<unknown> {
  return { id: "m-1", timestamp: new Date(), body, attempts, ack: () => {}, retry: () => {} };
}

describe("jobLog", () => {
  it("writes one JSON line per message with its outcome and the order it is about", () => {
    const started = Date.now() - 12;
    jobLog(message({ outbox_id: 7, order_id: 42, request_id: "req-1" }), "tenpo-order-emails", started).done("ok", "order e-mail: sent", {
      to_domain: "example.com",
    });
    const [line] = lines();
    expect(line).toMatchObject({
      level: "info",
      msg: "order e-mail: sent",
      job: ORDER_EMAIL_JOB,
      queue: "tenpo-order-emails",
      message_id: "m-1",
      attempt: 1,
      outcome: "ok",
      request_id: "req-1",
      outbox_id: 7,
      order_id: 42,
      to_domain: "example.com",
    });
    expect(line!.duration_ms).toBeGreaterThanOrEqual(12);
    expect(output[0]!.stream).toBe("log");
  });

  it("logs a retry and a suppressed e-mail as warnings, a failure and a dead letter as errors, with the stack", () => {
    const body = { outbox_id: 1, order_id: 2 };
    jobLog(message(body, 2), "q", Date.now()).done("retry", "retrying", errorFields(new Error("SMTP 451")));
    jobLog(message(body, 5), "q", Date.now()).done("failed", "given up", errorFields(new Error("SMTP 550")));
    jobLog(message(body), "q", Date.now()).done("dead_letter", "dead");
    jobLog(message(body), "q", Date.now()).done("suppressed", "capped");
    jobLog(message(body), "q", Date.now()).done("skipped", "duplicate");
    const [retry, failed, dead, suppressed, skipped] = lines();
    expect(retry).toMatchObject({ level: "warn", outcome: "retry", attempt: 2, error: "SMTP 451" });
    expect(retry!.stack).toEqual(expect.stringContaining("SMTP 451"));
    expect(failed).toMatchObject({ level: "error", outcome: "failed", attempt: 5, error: "SMTP 550" });
    expect(dead).toMatchObject({ level: "error", outcome: "dead_letter" });
    expect(suppressed).toMatchObject({ level: "warn", outcome: "suppressed" });
    expect(skipped).toMatchObject({ level: "info", outcome: "skipped" });
    expect(output.map((o) => o.stream)).toEqual(["warn", "error", "error", "warn", "log"]);
  });

  it("leaves out the order's fields when the body is not an order e-mail message", () => {
    const log = jobLog(message("garbage"), "q", Date.now());
    log.done("failed", "malformed");
    const [line] = lines();
    expect(line).toMatchObject({ job: ORDER_EMAIL_JOB, outcome: "failed", message_id: "m-1" });
    expect(line).not.toHaveProperty("order_id");
    expect(line).not.toHaveProperty("request_id");
  });

  it("carries fields added to the message's log into its line", () => {
    const log = jobLog(message({ outbox_id: 1, order_id: 2 }), "q", Date.now());
    Object.assign(log.fields, { send_attempt: 3 });
    log.done("ok", "sent");
    expect(lines()[0]).toMatchObject({ send_attempt: 3, outcome: "ok" });
  });

  it("cannot be told to overwrite its own fields", () => {
    jobLog(message({ outbox_id: 1, order_id: 2 }), "q", Date.now()).done("ok", "sent", {
      job: "spoofed",
      outcome: "spoofed",
      level: "debug",
      msg: "spoofed",
      time: "spoofed",
    });
    const [line] = lines();
    expect(line).toMatchObject({ level: "info", msg: "sent", job: ORDER_EMAIL_JOB, outcome: "ok" });
    expect(line!.time).not.toBe("spoofed");
    expect(output[0]!.stream).toBe("log");
  });
});
