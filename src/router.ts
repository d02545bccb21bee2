import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./app-env";
import { validationHook } from "./middleware/validation";

/** Every router is an OpenAPIHono whose zod validation failures render as the contract's 400. */
export const createRouter = () => new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
