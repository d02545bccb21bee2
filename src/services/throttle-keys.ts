import { sha256Hex } from "../lib/sha256-hex";

/** Who an attempt is counted against: the client (its address) and the account (its email). */

/**
 * The client an attempt is counted against. On Cloudflare, CF-Connecting-IP is set by the edge.
 * IPv6 clients are counted by their /64, the block one subscriber usually holds, so that rotating
 * through addresses of one's own block does not reset the count. Anything else is "unknown".
 */
export function clientKeyFor(connectingIp: string | undefined): string {
  const ip = connectingIp?.trim().toLowerCase() ?? "";
  if (/^(?:[0-9]{1,3}\.){3}[0-9]{1,3}$/.test(ip)) return ip;
  // IPv4-mapped IPv6 (::ffff:192.0.2.1): one IPv4 client, kept whole.
  if (/^::ffff:(?:[0-9]{1,3}\.){3}[0-9]{1,3}$/.test(ip)) return ip;
  return ipv6Slash64(ip) ?? "unknown";
}

/** The first four groups of an IPv6 address ("2001:db8:0:1::/64"), or null when it is not one. */
function ipv6Slash64(ip: string): string | null {
  if (ip.length > 39 || !/^[0-9a-f:]+$/.test(ip)) return null;
  const halves = ip.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves[1] ? halves[1].split(":") : [];
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? zeros : 0).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** Accounts are keyed by a digest of the lower-cased email: no addresses in Redis, bounded key length. */
export async function accountKeyFor(email: string): Promise<string> {
  return sha256Hex(email.trim().toLowerCase());
}
