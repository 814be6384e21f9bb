// One database per test file, cloned from a template that the real migrator
// brought up to date (re-made when the migrations change).
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { openDatabase, MIGRATIONS_DIR } from "@dockyard/control-plane";

export const ADMIN_URL = process.env.DOCKYARD_TEST_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

function urlFor(db: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

function migrationsHash(): string {
  const h = createHash("sha256");
  for (const f of readdirSync(MIGRATIONS_DIR, { recursive: true }).map(String).sort()) {
    if (f.endsWith(".sql") || f.endsWith(".json")) h.update(f).update(readFileSync(path.join(MIGRATIONS_DIR, f)));
  }
  return h.digest("hex").slice(0, 16);
}

/**
 * The template for this checkout's migrations: named by their hash, so checkouts at other commits never drop it under
 * us.
 */
const TEMPLATE = `dockyard_tmpl_${migrationsHash()}`;

async function ensureTemplate(admin: pg.Client): Promise<void> {
  const hash = migrationsHash();
  await admin.query("SELECT pg_advisory_lock(727001)");
  try {
    const { rows } = await admin.query<{ comment: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
      [TEMPLATE],
    );
    if (rows[0]?.comment === hash) return;
    if (rows.length > 0) await admin.query(`DROP DATABASE ${TEMPLATE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${TEMPLATE}`);
    const db = await openDatabase({ databaseUrl: urlFor(TEMPLATE), dataDir: "", poolSize: 1 });
    await db.close();
    await admin.query(`COMMENT ON DATABASE ${TEMPLATE} IS '${hash}'`);
  } finally {
    await admin.query("SELECT pg_advisory_unlock(727001)");
  }
}

/**
 * Set by scripts/test.sh for one run: its databases are named `t_RUN_*`, and what is left of them
 * when it ends is dropped then (test/src/leftovers/drop-databases.ts). A DROP DATABASE forces a
 * checkpoint of every database on the server: on a slow disk it took up to 70 s, and a file
 * waiting for it held one of the run's three lanes. In a run, a file's database is dropped by a
 * psql of its own that the file does not wait for.
 */
const RUN = process.env.DOCKYARD_TEST_RUN ?? "";

/** The prefix of every database the run `run` made (1-16 of a-z 0-9: it goes into SQL unquoted). */
export function runDatabasePrefix(run: string): string {
  if (!/^[a-z0-9]{1,16}$/.test(run)) throw new Error(`a test run id is 1-16 of a-z 0-9, got '${run.slice(0, 32)}'`);
  return `t_${run}_`;
}
if (RUN) runDatabasePrefix(RUN);

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database; fails loudly when Postgres is not reachable. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `Postgres is not reachable at ${ADMIN_URL} (run 'npm test', which starts it): ${(err as Error).message}`,
    );
  }
  try {
    await ensureTemplate(admin);
    const name = `${RUN ? runDatabasePrefix(RUN) : "t_"}${randomBytes(6).toString("hex")}`;
    // Another file's clone can collide with a template connection for a moment; retry briefly.
    for (let i = 0; ; i++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
        // A commit here does not wait for its WAL flush. The machine's Postgres syncs to disk,
        // and each test database's DROP forces a checkpoint of every database on it: on a slow
        // disk, another file's commits then took seconds, long enough to fence its agents' leases.
        // Only a Postgres crash could lose such commits, and no test crashes the shared Postgres.
        await admin.query(`ALTER DATABASE ${name} SET synchronous_commit = off`);
        break;
      } catch (err) {
        if (i >= 20 || !String((err as Error).message).includes("being accessed")) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return {
      url: urlFor(name),
      name,
      async drop() {
        if (RUN) {
          // Detached: it outlives this file's process; the run's end waits for it (its DROP holds the database).
          spawn("psql", [ADMIN_URL, "-qc", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], {
            detached: true,
            stdio: "ignore",
          }).unref();
          return;
        }
        const c = new pg.Client({ connectionString: ADMIN_URL });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => c.end());
      },
    };
  } finally {
    await admin.end();
  }
}
