/**
 * Fixed counting windows (a limiter's bucket of a minute, the rate limiting binding's 60 s) restart at
 * multiples of their length; a test that counts up to a limit must not straddle that moment, or it sees
 * a fresh budget half-way. This waits, when needed, until the current window has at least `needMs` left.
 */
export async function withinOneWindow(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
