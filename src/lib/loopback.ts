/**
 * Whether a host name names this machine: `localhost` and its subdomains (browsers resolve
 * `*.localhost` to loopback without asking DNS), 127.0.0.0/8 and `::1`. `hostname` is spelled as
 * `URL.hostname` spells it (lower case, IPv6 in brackets); the brackets are optional here.
 *
 * One rule for the Worker (is this request served to the internet?) and for the local servers in
 * scripts/ (is this Host or Origin this machine's?).
 */
export function isLoopbackHostname(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (name === "::1" || name === "[::1]") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/**
 * Whether a PostgreSQL connection string names a database on this machine: a loopback host, or a unix
 * socket (no host, or a path, in the URL or in its `host` parameter, which takes precedence). False
 * when it cannot be read as a URL.
 */
export function isLocalConnectionString(connectionString: string | undefined): boolean {
  let url: URL;
  try {
    url = new URL(connectionString ?? "");
  } catch {
    return false;
  }
  const hosts = (url.searchParams.get("host") ?? decodeURIComponent(url.hostname)).split(",");
  return hosts.every((host) => host === "" || host.startsWith("/") || isLoopbackHostname(host));
}
