/**
 * The round-trip times the latency model (load/latency/model.ts) charges per city, with where each
 * figure comes from. Published figures only; where none was found for a hop the value is an assumption
 * and says so. All were read on 2026-12-02 from the sources below (their own dates in brackets).
 *
 * Where things run (Tenpo's production setting, wrangler.toml and README "Configuration"):
 *   - the database: Neon in AWS us-east-1 (N. Virginia), one region: Neon has no cross-region read
 *     replicas [NEON-RR];
 *   - Redis: Upstash, a regional database in us-east-1 beside it (a Global database would answer reads
 *     from a nearer read region and send writes to the primary [UPSTASH-GLOBAL]; not modelled);
 *   - the Worker: the Cloudflare location nearest the shopper, or with Smart Placement the location
 *     nearest the database [CF-PLACEMENT];
 *   - the FastAPI original: one region, us-east-1, its PostgreSQL and Redis beside it.
 */

/** A published source: what it is, where, and what was read there. */
export interface Source {
  id: string;
  title: string;
  url: string;
  /** The row or sentence the figure was taken from. */
  quote: string;
}

export const SOURCES: readonly Source[] = [
  {
    id: "AWS-PING-2019",
    title:
      "Richard Imaoka, “Using ping to test AWS VPC network latency across different regions” (2019-06-10): ping between EC2 instances over inter-region VPC peering, avg of the run",
    url: "https://github.com/richardimaoka/blog-en/blob/master/posts/network-latency-analysis-with-ping-aws-cross-region.md",
    quote:
      "ap-northeast-1 → us-east-1 152.693; sa-east-1 → us-east-1 140.855; ap-south-1 → us-east-1 181.932; ap-southeast-2 → us-east-1 198.82; " +
      "ap-southeast-1 → us-east-1 226.586; eu-central-1 → us-east-1 87.959; eu-west-2 → us-east-1 76.702; us-east-1 → us-west-1 62.111 (avg ms)",
  },
  {
    id: "AZURE-RTT",
    title: "Microsoft, “Azure network round-trip latency statistics” (dataset of 2026-07-30; P95 values, so above a median)",
    url: "https://learn.microsoft.com/en-us/azure/networking/azure-network-latency",
    quote:
      "East US column: South Africa North (Johannesburg) 225; Japan East 165; Australia East 206; Brazil South 121; Germany West Central 97; UK South 80",
  },
  {
    id: "CF-NETWORK",
    title: "Cloudflare, “Our network” (quoted second-hand; the page itself could not be opened from here)",
    url: "https://www.cloudflare.com/network/",
    quote: "95% of the world's Internet-connected population is within 50 milliseconds of a Cloudflare data center",
  },
  {
    id: "CF-NEW-CITIES-2022",
    title: "Cloudflare blog, “New cities on the Cloudflare global network: March 2022 edition”",
    url: "https://blog.cloudflare.com/mid-2022-new-cities/",
    quote: "our new locations in Israel, which reduced median response time (latency) from 86ms to 29ms",
  },
  {
    id: "CF-PLACEMENT",
    title: "Cloudflare docs, Workers “Placement” (Smart Placement and placement hints)",
    url: "https://developers.cloudflare.com/workers/configuration/placement/",
    quote:
      "If a candidate location is significantly faster, the request is forwarded there. … reducing that round-trip latency from 20-30ms per query to 1-3ms. " +
      "Enable placement on your back-end Worker to invoke it close to your database, while the edge Worker handles authentication close to the user.",
  },
  {
    id: "CF-CACHE-API",
    title: "Cloudflare docs, Workers Cache API",
    url: "https://developers.cloudflare.com/workers/runtime-apis/cache/",
    quote: "the contents of the cache do not replicate outside of the originating data center",
  },
  {
    id: "HYPERDRIVE",
    title: "Cloudflare docs, Hyperdrive: get started, and query caching",
    url: "https://developers.cloudflare.com/hyperdrive/get-started/",
    quote:
      "Hyperdrive reduces seven round-trips to your database before you can even send a query: the TCP handshake (1x), TLS negotiation (3x), and database authentication (3x). " +
      "(query caching: max_age = 60 seconds by default, non-mutating queries only)",
  },
  {
    id: "NEON-RR",
    title: "Neon docs, read replicas; regions",
    url: "https://neon.tech/docs/introduction/read-replicas",
    quote:
      "Neon supports creating read replicas in the same region as your database. Cross-region read replicas are currently not supported.",
  },
  {
    id: "UPSTASH-GLOBAL",
    title: "Upstash docs, Global database",
    url: "https://upstash.com/docs/redis/features/globaldatabase",
    quote:
      "a write command … is initially sent and processed at the Primary Region … a read command … is directed to the nearest Read Region",
  },
];

/**
 * The shopper's last mile, to the nearest Cloudflare location: no per-city figure was found, so one
 * assumption for every city, below Cloudflare's 50 ms bound for 95 % of users [CF-NETWORK] and near
 * the 29 ms median it reported after adding locations in one country [CF-NEW-CITIES-2022]. The same
 * last mile is paid on the way to the original's region, so it shifts every deployment of a city
 * alike and never changes which one wins; `npm run latency-model -- --last-mile MS` tries another.
 */
export const LAST_MILE_MS = 25;

/**
 * A round trip inside one metro: the Worker placed beside the database, or the Cloudflare location of
 * Ashburn and us-east-1 [CF-PLACEMENT: "1-3ms" per query once placed]. The FastAPI original's own
 * database and Redis are beside it too; its probe measured them on loopback, so it is charged nothing.
 */
export const IN_REGION_MS = 2;

/** One city a shopper is in, and the round trip from its Cloudflare location to us-east-1. */
export interface City {
  name: string;
  /** Cloudflare location (IATA code) a shopper there reaches first. */
  location: string;
  /** That location → AWS us-east-1 (the database, Upstash and the original's region), ms. */
  toUsEast1Ms: number;
  /** Which source, and which row of it. */
  source: string;
}

export const CITIES: readonly City[] = [
  { name: "Ashburn (next to us-east-1)", location: "IAD", toUsEast1Ms: IN_REGION_MS, source: "in-metro [CF-PLACEMENT]" },
  { name: "San Francisco", location: "SFO", toUsEast1Ms: 62.1, source: "us-east-1 ↔ us-west-1 [AWS-PING-2019]" },
  { name: "London", location: "LHR", toUsEast1Ms: 76.7, source: "eu-west-2 → us-east-1 [AWS-PING-2019]" },
  { name: "Frankfurt", location: "FRA", toUsEast1Ms: 88.0, source: "eu-central-1 → us-east-1 [AWS-PING-2019]" },
  { name: "São Paulo", location: "GRU", toUsEast1Ms: 140.9, source: "sa-east-1 → us-east-1 [AWS-PING-2019]" },
  { name: "Tokyo", location: "NRT", toUsEast1Ms: 152.7, source: "ap-northeast-1 → us-east-1 [AWS-PING-2019]" },
  { name: "Mumbai", location: "BOM", toUsEast1Ms: 181.9, source: "ap-south-1 → us-east-1 [AWS-PING-2019]" },
  { name: "Sydney", location: "SYD", toUsEast1Ms: 198.8, source: "ap-southeast-2 → us-east-1 [AWS-PING-2019]" },
  { name: "Johannesburg", location: "JNB", toUsEast1Ms: 225, source: "South Africa North → East US, P95 [AZURE-RTT]" },
  { name: "Singapore", location: "SIN", toUsEast1Ms: 226.6, source: "ap-southeast-1 → us-east-1 [AWS-PING-2019]" },
];
