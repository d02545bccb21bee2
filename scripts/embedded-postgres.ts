/**
 * The embedded database for people who have only Node: PGlite (PostgreSQL compiled to WASM, in this
 * process) with pg_trgm, persisted in a folder (normally the git-ignored `.tenpo/pglite`) and exposed
 * on a local TCP port by @electric-sql/pglite-socket, so that everything else (the SQL-over-HTTP
 * server on `pg`, drizzle's node-postgres migrator, the seed, psql) talks to it as to a PostgreSQL
 * server.
 *
 * What PGLiteSocketServer really is (read in its source, 0.2.17, and measured):
 * - PGlite is a single backend. The server multiplexes every socket onto it: protocol messages go
 *   through one global queue, one at a time, and while a connection has an explicit transaction
 *   open, only that connection's messages run (another client cannot even finish connecting until
 *   it commits or disconnects). There is no parallelism to gain from a second connection, and all
 *   connections share one session (SET, temp tables, prepared statement names, advisory locks leak
 *   between them).
 * - Messages are queued one by one, not per Sync, so two connections sending extended-protocol
 *   batches at the same moment can in principle interleave Parse/Bind (it did not happen in tests:
 *   a batch that arrives in one TCP read runs without yielding). Hence clients should keep to ONE
 *   active connection: `maxConnections` below is 1 and a `pg.Pool` should use `max: maxConnections`.
 * - Its own `maxConnections` option is a hard cap on open sockets; a socket over the cap is reset.
 *   pg.Pool destroys a client after any query error and reconnects at once, before the server has
 *   noticed the old socket closing: with a cap of 1 every query after an error failed
 *   ("Connection terminated unexpectedly"). So the socket cap here is a few slots higher than the
 *   advertised connection count: room for those reconnects and for a psql session.
 * - The engine is PostgreSQL 18 (PGlite 0.5.14), not the 15 of CI; our migration and seed run
 *   unchanged on both and produce identical rows.
 * - Any user, password and database name are accepted and ignored: the session is always user
 *   `postgres` in database `postgres`. No TLS (it answers 'N' to SSLRequest), no auth, no cancel.
 * - Two processes opening the same data folder corrupt it (PGlite takes no lock; tried: the second
 *   process saw "duplicate key ... pg_type" errors), so a lock file next to the folder guards it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { processIsAlive } from "./services";

export interface EmbeddedPostgres {
  /** postgres://postgres@host:port/postgres?sslmode=disable */
  connectionString: string;
  /** How many connections clients should use at once (size pools with it): PGlite serves one. */
  maxConnections: number;
  /** Stops the socket server, shuts PGlite down cleanly (checkpoint) and releases the data folder. */
  close(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Folder holding the database files; created if missing (first start runs initdb, ~3 s). */
  dataDir: string;
  /** TCP port; 0 (the default) lets the OS choose, so a real PostgreSQL's 5432 is never taken. */
  port?: number;
  host?: string;
  log?: (line: string) => void;
}

const CLIENT_CONNECTIONS = 1;
// Headroom over CLIENT_CONNECTIONS for reconnects after errors and a developer's psql (see header).
const SOCKET_SLOTS = 8;

// ---------------------------------------------------------------------------------------------
// Data folder lock
// ---------------------------------------------------------------------------------------------

function readLockOwner(lockPath: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(lockPath, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes `<dataDir>.lock` (holding our pid), next to the folder rather than in it so PostgreSQL's
 * own files stay untouched, or explains who holds it. A lock left by a process that died is
 * taken over: after a crash PostgreSQL recovers from its WAL on the next open.
 */
function acquireDataDirLock(dataDir: string, log: (line: string) => void): () => void {
  const lockPath = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        process.off("exit", release);
        rmSync(lockPath, { force: true });
      };
      // Covers process.exit() and uncaught errors; a kill leaves the lock behind, which the pid check handles.
      process.on("exit", release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = readLockOwner(lockPath);
      if (owner !== null && processIsAlive(owner)) {
        throw new Error(
          `embedded postgres: ${dataDir} is in use by process ${owner} (lock ${lockPath}); ` +
            "stop that process, or delete the lock file if it is not a Tenpo server",
        );
      }
      log(`embedded postgres: removing stale lock ${lockPath} (process ${owner ?? "unknown"} is gone)`);
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`embedded postgres: could not take the lock ${lockPath}`);
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

function connectionStringFor(host: string, port: number): string {
  const h = host.includes(":") ? `[${host}]` : host;
  // The database name is ignored by PGlite; "postgres" is what the session really is.
  return `postgres://postgres@${h}:${port}/postgres?sslmode=disable`;
}

/** getServerConn() is "host:port"; the port is known only once listening (port 0 = OS-chosen). */
function listeningPort(server: PGLiteSocketServer): number {
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(":") + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`embedded postgres: unexpected listen address ${conn}`);
  return port;
}

async function openDatabase(dataDir: string, log: (line: string) => void): Promise<PGlite> {
  const started = performance.now();
  // The extension must be registered on every open, not only when it is created: the GIN trigram
  // index needs its operator classes loaded.
  const db = await PGlite.create({ dataDir, extensions: { pg_trgm } });
  const { rows } = await db.query<{ version: string }>("SELECT current_setting('server_version') AS version");
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  log(`embedded postgres: PGlite (PostgreSQL ${rows[0]?.version ?? "?"}) opened ${dataDir} in ${seconds} s`);
  return db;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => {});
  const host = opts.host ?? "127.0.0.1";
  const dataDir = resolve(opts.dataDir);
  // PGlite creates only the last path segment itself.
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = acquireDataDirLock(dataDir, log);

  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    db = await openDatabase(dataDir, log);
    server = new PGLiteSocketServer({ db, host, port: opts.port ?? 0, maxConnections: SOCKET_SLOTS });
    server.addEventListener("error", (event) => {
      const detail = (event as CustomEvent<unknown>).detail;
      log(`embedded postgres: socket server error: ${detail instanceof Error ? detail.message : String(detail)}`);
    });
    await server.start();
  } catch (err) {
    await db?.close().catch(() => {});
    releaseLock();
    throw err;
  }

  const port = listeningPort(server);
  const connectionString = connectionStringFor(host, port);
  log(`embedded postgres: listening on ${host}:${port} (one connection at a time)`);

  const runningServer = server;
  const runningDb = db;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        await runningServer.stop();
        // close() waits for the statement in progress, then shuts PostgreSQL down with a checkpoint.
        await runningDb.close();
        log("embedded postgres: closed");
      } finally {
        releaseLock();
      }
    })();
    return closing;
  };

  return { connectionString, maxConnections: CLIENT_CONNECTIONS, close };
}
