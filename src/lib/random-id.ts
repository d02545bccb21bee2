/**
 * A random identifier of `bytes` bytes from the platform's CSPRNG (crypto.getRandomValues), written in
 * base64url without padding (RFC 4648 section 5: A–Z a–z 0–9 - _), so it can stand in a URL path as it is.
 * Every 3 bytes make 4 characters: 18 bytes are 24 characters and 144 bits nobody can guess.
 */
export function randomUrlSafeId(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...random))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}
