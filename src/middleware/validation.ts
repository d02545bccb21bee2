import type { z } from "@hono/zod-openapi";
import { ApiError, type FieldProblem } from "../errors";

type ValidationResult = { success: true } | { success: false; error: z.ZodError };

/**
 * The hook every zod-validated route uses: a failed validation becomes docs/api.md's
 * 400 `validation_error` with `details: [{field, message}]`, thrown so `app.onError` renders it.
 */
export const validationHook = (result: ValidationResult): void => {
  if (result.success) return;
  throw new ApiError(400, "validation_error", "The request is not valid", toFieldProblems(result.error));
};

export function toFieldProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.map((issue) => ({
    field: issue.path.length ? issue.path.join(".") : "body",
    message: issue.message,
  }));
}
