import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../errors";

/** The largest request body the API reads. */
export const MAX_BODY_BYTES = 64 * 1024;

/** 413 `payload_too_large` for a body over MAX_BODY_BYTES, before anything parses it. */
export const limitBodySize = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError(413, "payload_too_large", `Request bodies are limited to ${MAX_BODY_BYTES} bytes`);
  },
});
