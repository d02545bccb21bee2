DROP INDEX "email_outbox_pending_idx";--> statement-breakpoint
ALTER TABLE "email_outbox" ADD COLUMN "suppressed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "email_outbox" ADD COLUMN "recipient" text GENERATED ALWAYS AS (case
  when lower(btrim("payload"->>'to')) ~ '@(gmail|googlemail)\.com$'
    then replace(split_part(split_part(lower(btrim("payload"->>'to')), '@', 1), '+', 1), '.', '') || '@gmail.com'
  else regexp_replace(lower(btrim("payload"->>'to')), '^([^+@]*)\+[^@]*@', '\1@')
end) STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "email_outbox_recipient_idx" ON "email_outbox" USING btree ("recipient","sent_at") WHERE "email_outbox"."failed_at" is null and "email_outbox"."suppressed_at" is null;--> statement-breakpoint
CREATE INDEX "email_outbox_pending_idx" ON "email_outbox" USING btree ("id") WHERE "email_outbox"."sent_at" is null and "email_outbox"."failed_at" is null and "email_outbox"."suppressed_at" is null;