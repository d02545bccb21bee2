/**
 * GET /docs renders in a real browser, offline: headless Chromium opens the page of the production bundle
 * served the way `npm start` serves it (scripts/worker-runtime.ts: the port bound straight to the Worker,
 * the Swagger UI files from the static assets through the ASSETS binding), every request to a host other
 * than this machine is refused and fails the test, and every tag of /openapi.json shows as a group of
 * operations. Run in Node: it drives a browser process. Needs Debian's chromium at /usr/bin/chromium
 * (.ci/run installs it).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorkerRuntime, type WorkerRuntime } from "../../scripts/worker-runtime";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const HOST = "127.0.0.1";
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** The flags of a browser that reaches nothing on its own: no QUIC, no sync, no updates, no first-run pages. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe("GET /docs in headless Chromium", () => {
  let scratch: string;
  let worker: WorkerRuntime;
  let browser: BrowserContext;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (bash .ci/run does)`);
    scratch = await mkdtemp(join(tmpdir(), "tenpo-docs-render-"));
    worker = await startWorkerRuntime({
      root: ROOT,
      bundleDir: join(scratch, "build"),
      host: HOST,
      port: await freePort(),
      // Never reached (the docs page and the document need no database), but every request makes a client.
      vars: { DATABASE_URL: "postgres://postgres@127.0.0.1:9/tenpo_docs_render" },
      persistTo: join(scratch, "state"),
      onOutput: () => {},
      crons: false,
      log: () => {},
    });
    browser = await chromium.launchPersistentContext(join(scratch, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("shows every tag of /openapi.json as a group, loading nothing from another host", async () => {
    const refused: string[] = [];
    await browser.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (LOOPBACK_HOSTS.has(url.hostname) || LOOPBACK_HOSTS.has(`[${url.hostname}]`)) return route.continue();
      refused.push(url.href);
      return route.abort("blockedbyclient");
    });
    const pageErrors: string[] = [];
    const page = await browser.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));

    const document = (await (await fetch(`${worker.url}/openapi.json`)).json()) as { tags: Array<{ name: string }> };
    const tags = document.tags.map((tag) => tag.name);
    expect(tags.length).toBeGreaterThan(0);

    const res = await page.goto(`${worker.url}/docs`, { waitUntil: "load" });
    expect(res?.status()).toBe(200);
    const groups = page.locator(".opblock-tag[data-tag]");
    await expect.poll(() => groups.count(), { timeout: 30_000 }).toBe(tags.length);
    const shown = await groups.evaluateAll((elements) => elements.map((element) => element.getAttribute("data-tag")));

    expect(shown.sort()).toEqual([...tags].sort());
    // Each group lists its operations.
    await groups.first().waitFor();
    expect(await page.locator(".opblock").count()).toBeGreaterThan(0);
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
