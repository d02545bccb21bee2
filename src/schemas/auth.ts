import { z } from "@hono/zod-openapi";
import { TimestampSchema, text } from "./common";

/** Accounts and tokens as the API reads and writes them. Unknown body fields (e.g. `is_admin`) are dropped. */

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
const EMAIL_MAX_LENGTH = 254;
const FULL_NAME_MAX_LENGTH = 200;

export const RegisterBodySchema = z
  .object({
    email: text()
      .trim()
      .max(EMAIL_MAX_LENGTH, `must be at most ${EMAIL_MAX_LENGTH} characters`)
      .pipe(z.email("must be a valid email address"))
      .openapi({ type: "string", format: "email", maxLength: EMAIL_MAX_LENGTH, example: "ada@example.com" }),
    password: text()
      .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
      .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`)
      .openapi({ format: "password", example: "correct horse battery" }),
    full_name: text()
      .trim()
      .max(FULL_NAME_MAX_LENGTH, `must be at most ${FULL_NAME_MAX_LENGTH} characters`)
      .nullish()
      .openapi({ example: "Ada Lovelace" }),
  })
  .openapi("RegisterRequest");

export type RegisterBody = z.infer<typeof RegisterBodySchema>;

export const LoginBodySchema = z
  .object({
    username: text()
      .min(1, "is required")
      .max(320, "must be at most 320 characters")
      .openapi({ description: "The account's email (any case)", example: "test@example.com" }),
    // Not held to the registration rules: a password that could never have been set is simply wrong (401).
    password: text()
      .min(1, "is required")
      .max(1024, "must be at most 1024 characters")
      .openapi({ format: "password", example: "password123" }),
  })
  .openapi("LoginRequest");

export const UserSchema = z
  .object({
    id: z.number().int().openapi({ example: 1 }),
    email: z.string().openapi({ example: "ada@example.com" }),
    full_name: z.string().nullable().openapi({ example: "Ada Lovelace" }),
    is_admin: z.boolean(),
    created_at: TimestampSchema,
  })
  .openapi("User");

export type UserBody = z.infer<typeof UserSchema>;

export const AccessTokenSchema = z
  .object({
    access_token: z.string().openapi({ description: "An HS256 JWT; send it as `Authorization: Bearer <token>`" }),
    token_type: z.literal("bearer"),
    expires_in: z.number().int().openapi({ description: "Seconds until the token expires", example: 3600 }),
  })
  .openapi("AccessToken");
