/**
 * A virtual user's login, as the FastAPI original's Locust user does it on start:
 * `POST /api/v1/auth/login {"username", "password"}` → `access_token`, recorded as the `login` step.
 */
import { DEMO_PASSWORD } from "./demo";
import { apiHeaders, type RecordingClient } from "./recording-client";

/** The bearer token of `username` (the demo password), or undefined when the login did not give one. */
export async function logIn(api: RecordingClient, username: string): Promise<string | undefined> {
  const reply = await api.request("login", {
    method: "POST",
    path: "/api/v1/auth/login",
    headers: apiHeaders(undefined, true),
    body: JSON.stringify({ username, password: DEMO_PASSWORD }),
    read: true,
  });
  if (reply?.status !== 200) return undefined;
  try {
    const token = (JSON.parse(reply.text) as { access_token?: unknown }).access_token;
    return typeof token === "string" ? token : undefined;
  } catch {
    // Not JSON: a failed login.
    return undefined;
  }
}
