import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../middleware/auth";
import { createRouter } from "../router";
import { AccessTokenSchema, LoginBodySchema, RegisterBodySchema, UserSchema } from "../schemas/auth";
import { errorResponses } from "../schemas/common";
import { getTokenAccount, logIn, registerUser } from "../services/auth";
import { clientKeyFor, createLoginThrottle } from "../services/login-throttle";
import { TOKEN_ACCOUNT_GONE, TOKEN_TTL_SECONDS, issueToken, tokenRefused } from "../services/tokens";

/** /api/v1/auth: register, login, me. */
export const auth = createRouter();

auth.openapi(
  createRoute({
    method: "post",
    path: "/register",
    tags: ["Auth"],
    summary: "Create a customer account",
    description: "Emails are case-insensitive. Fields other than these are ignored; accounts are never created as admins.",
    request: { body: { required: true, content: { "application/json": { schema: RegisterBodySchema } } } },
    responses: {
      201: { description: "The new account", content: { "application/json": { schema: UserSchema } } },
      400: errorResponses[400],
      409: { ...errorResponses[409], description: "`email_taken`: an account with this email exists" },
    },
  }),
  async (c) => {
    const { email, password, full_name } = c.req.valid("json");
    const user = await registerUser(c.get("db"), { email, password, fullName: full_name });
    return c.json(user, 201);
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/login",
    tags: ["Auth"],
    summary: "Exchange an email and password for an access token",
    description:
      "`username` is the account's email. A wrong email and a wrong password get the same 401 `invalid_credentials`. " +
      "Repeated failures for one account (10 per 15 minutes) or one client are answered with 429 `rate_limited` " +
      "and `Retry-After`, also for the right password, until the window has passed. Successful logins are never throttled.",
    request: { body: { required: true, content: { "application/json": { schema: LoginBodySchema } } } },
    responses: {
      200: { description: "An access token", content: { "application/json": { schema: AccessTokenSchema } } },
      400: errorResponses[400],
      401: { ...errorResponses[401], description: "`invalid_credentials`: unknown email or wrong password" },
      429: { ...errorResponses[429], description: "`rate_limited`: too many failed attempts; see `Retry-After`" },
    },
  }),
  async (c) => {
    const { username, password } = c.req.valid("json");
    const client = clientKeyFor(c.req.header("CF-Connecting-IP"));
    const { user, tokenVersion } = await logIn(c.get("db"), createLoginThrottle(c.env), { email: username, password, client });
    const accessToken = await issueToken({ id: user.id, isAdmin: user.is_admin, tokenVersion }, c.env.JWT_SECRET);
    return c.json({ access_token: accessToken, token_type: "bearer" as const, expires_in: TOKEN_TTL_SECONDS }, 200);
  },
);

auth.openapi(
  createRoute({
    method: "get",
    path: "/me",
    tags: ["Auth"],
    summary: "The account the token belongs to",
    security: [{ bearerAuth: [] }],
    middleware: [requireUser] as const,
    responses: {
      200: { description: "The current user", content: { "application/json": { schema: UserSchema } } },
      401: {
        ...errorResponses[401],
        description: "`unauthorized`: no valid token, its account no longer exists, or the account's tokens were revoked",
      },
    },
  }),
  async (c) => {
    const user = await getTokenAccount(c.get("db"), c.get("user")!);
    // A valid token of an account that is gone or revoked it: the caller has to log in again, as with an expired token.
    if (!user) throw tokenRefused(TOKEN_ACCOUNT_GONE);
    return c.json(user, 200);
  },
);
