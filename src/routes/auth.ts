import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../middleware/auth";
import { createRouter } from "../router";
import { AccessTokenSchema, LoginBodySchema, RegisterBodySchema, UserSchema } from "../schemas/auth";
import { bodyErrorResponses, errorResponses } from "../schemas/common";
import { getTokenAccount, logIn, registerUser } from "../services/auth";
import { createLoginThrottle } from "../services/login-throttle";
import { createRegisterThrottle } from "../services/register-throttle";
import { clientKeyFor } from "../services/throttle-keys";
import {
  ACCOUNT_FAILURES_PER_WINDOW,
  CLIENT_FAILURES_PER_WINDOW,
  FAMILIAR_TTL_SECONDS,
  LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE,
  LOGIN_WINDOW_MINUTES,
  PAIR_FAILURES_PER_WINDOW,
  REGISTER_ATTEMPTS_PER_HOUR,
  REGISTER_ATTEMPTS_PER_MINUTE,
  REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE,
  REGISTER_TAKEN_PER_WINDOW,
  REGISTER_TAKEN_WINDOW_MINUTES,
} from "../services/throttle-policy";
import { TOKEN_TTL_SECONDS, issueToken } from "../lib/access-token";
import { TOKEN_ACCOUNT_GONE, tokenRefused } from "../services/tokens";

/** /api/v1/auth: register, login, me. */
export const auth = createRouter();

const THROTTLE_DOWN =
  "While the throttle's Redis is not answering, attempts are counted before the password is checked on a per-location " +
  `rate limiter instead (logins: ${LOGIN_FALLBACK_ATTEMPTS_PER_MINUTE} a minute per account, right passwords too; registrations: ` +
  `${REGISTER_FALLBACK_ATTEMPTS_PER_MINUTE} a minute per client), 429 past it; without either, 503 \`service_unavailable\`.`;
/** Logins and registrations hash a password, and the hashes queue (src/services/password-gate.ts). */
const SIGN_IN_UNAVAILABLE = {
  ...errorResponses[503],
  description:
    "`service_unavailable`: the database is not answering, too many sign-ins are waiting for their password check " +
    "(`Retry-After: 10`), the throttle has neither its Redis nor its rate limiter, or this deployment refuses to serve " +
    "with development settings; retry after `Retry-After` seconds",
};

auth.openapi(
  createRoute({
    method: "post",
    path: "/register",
    operationId: "registerUser",
    tags: ["Auth"],
    security: [],
    summary: "Create a customer account",
    description:
      "Emails are case-insensitive. Fields other than these are ignored; accounts are never created as admins. " +
      `Registrations are limited per client (its address): ${REGISTER_ATTEMPTS_PER_MINUTE} a minute and ${REGISTER_ATTEMPTS_PER_HOUR} an hour ` +
      `(60 a minute are never refused), and ${REGISTER_TAKEN_PER_WINDOW} \`email_taken\` answers per ${REGISTER_TAKEN_WINDOW_MINUTES} minutes, after which ` +
      "that client's registrations get 429 `rate_limited` with `Retry-After` until the window has passed. " +
      THROTTLE_DOWN,
    request: { body: { required: true, content: { "application/json": { schema: RegisterBodySchema } } } },
    responses: {
      201: { description: "The new account", content: { "application/json": { schema: UserSchema } } },
      ...bodyErrorResponses,
      409: { ...errorResponses[409], description: "`email_taken`: an account with this email exists" },
      429: { ...errorResponses[429], description: "`rate_limited`: too many registrations from this client; see `Retry-After`" },
      500: errorResponses[500],
      503: SIGN_IN_UNAVAILABLE,
    },
  }),
  async (c) => {
    const { email, password, full_name } = c.req.valid("json");
    const client = clientKeyFor(c.req.header("CF-Connecting-IP"));
    const user = await registerUser(c.get("db"), createRegisterThrottle(c.env), { email, password, fullName: full_name, client });
    return c.json(user, 201);
  },
);

auth.openapi(
  createRoute({
    method: "post",
    path: "/login",
    operationId: "login",
    tags: ["Auth"],
    security: [],
    summary: "Exchange an email and password for an access token",
    description:
      "`username` is the account's email. A wrong email and a wrong password get the same 401 `invalid_credentials`. " +
      "Only failures count; successful logins are never throttled. " +
      `After ${PAIR_FAILURES_PER_WINDOW} failures per ${LOGIN_WINDOW_MINUTES} minutes from one client on one account, that client gets 429 \`rate_limited\` ` +
      "with `Retry-After` on that account, also for the right password, until the window has passed; a wrong guess past a limit " +
      `gets 429, never 401. After ${ACCOUNT_FAILURES_PER_WINDOW} failures per ${LOGIN_WINDOW_MINUTES} minutes on an account from all clients, or ` +
      `${CLIENT_FAILURES_PER_WINDOW} from one client across accounts, clients that have not logged in to that account successfully ` +
      `within ${FAMILIAR_TTL_SECONDS / 86_400} days get 429 too, while its familiar clients keep their own limit. ` +
      THROTTLE_DOWN,
    request: { body: { required: true, content: { "application/json": { schema: LoginBodySchema } } } },
    responses: {
      200: { description: "An access token", content: { "application/json": { schema: AccessTokenSchema } } },
      ...bodyErrorResponses,
      // No WWW-Authenticate: the request carries no token to refuse.
      401: { description: "`invalid_credentials`: unknown email or wrong password", content: errorResponses[401].content },
      429: { ...errorResponses[429], description: "`rate_limited`: too many failed attempts; see `Retry-After`" },
      500: errorResponses[500],
      503: SIGN_IN_UNAVAILABLE,
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
    operationId: "getCurrentUser",
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
      500: errorResponses[500],
      503: errorResponses[503],
    },
  }),
  async (c) => {
    const user = await getTokenAccount(c.get("db"), c.var.user);
    // A valid token of an account that is gone or revoked it: the caller has to log in again, as with an expired token.
    if (!user) throw tokenRefused(TOKEN_ACCOUNT_GONE);
    return c.json(user, 200);
  },
);
