import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { ApiError } from "../errors";
import { log } from "../log";

const DEVELOPMENT_SECRETS = new Set(["tenpo-dev-secret", "tenpo-test-secret", "change-me", "secret"]);
const MIN_SECRET_LENGTH = 32;

/**
 * A deployed environment without a real JWT secret refuses to serve rather than sign tokens with a
 * default that anyone can read in this repository. Local environments may use the .dev.vars secret.
 */
export const requireRealSecretWhenDeployed: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (isDeployed(c.env.ENVIRONMENT) && !isRealSecret(c.env.JWT_SECRET)) {
    log("error", "JWT_SECRET is missing or a development value; refusing to serve");
    throw ApiError.serviceUnavailable("The service is not configured", 60);
  }
  await next();
};

function isDeployed(environment: string): boolean {
  return environment === "staging" || environment === "production";
}

function isRealSecret(secret: string | undefined): boolean {
  return typeof secret === "string" && secret.length >= MIN_SECRET_LENGTH && !DEVELOPMENT_SECRETS.has(secret);
}
