/** docs/api.md's rule for `X-Request-Id`: 1..128 characters of [A-Za-z0-9._-] are echoed, anything else replaced. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The caller's request id when it is sane, else a new random one. */
export function requestIdFor(sent: string | null | undefined): string {
  return sent && SANE_REQUEST_ID.test(sent) ? sent : crypto.randomUUID();
}
