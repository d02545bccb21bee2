import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./app-env";
import { validationHook } from "./middleware/validation";

/** Every router is an OpenAPIHono whose zod validation failures render as docs/api.md's 400 `validation_error`. */
export const createRouter = () => new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
