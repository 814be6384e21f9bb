// Opens the database: Postgres through `pg` when DATABASE_URL is set, else an
// embedded PGlite in the data directory (single-node farms need no server).
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import type { Client as PgClient } from "pg";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema";
import { startupRetry } from "../retry";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export interface Database {
  db: Db;
  /**
   * A small separate pool for liveness (heartbeats, loss sweeps): under load
   * the main pool queues, and a heartbeat waiting behind bulk work would get
   * a healthy agent declared lost. PGlite has one connection: same object.
   */
  liveDb: Db;
  kind: "postgres" | "pglite";
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../migrations");

export interface OpenOptions {
  databaseUrl: string | null;
  dataDir: string;
  poolSize?: number;
  /** Errors of idle pooled connections (a Postgres restart); without a handler they would crash the process. */
  onError?: (err: Error) => void;
  /** Each failed try while a starting server waits for Postgres (retry.ts startupRetry). */
  onWait?: (err: unknown, attempt: number) => void;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.databaseUrl) {
    const { default: pg } = await import("pg");
    const { drizzle } = await import("drizzle-orm/node-postgres");
    const { migrate } = await import("drizzle-orm/node-postgres/migrator");
    const Client = preparingClient(pg.Client);
    // A connection that cannot be made within a second is an outage, answered as such (503).
    const pool = new pg.Pool({
      Client,
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? Number(process.env.DOCKYARD_DB_POOL_SIZE ?? 20),
      connectionTimeoutMillis: 1000,
    });
    const livePool = new pg.Pool({ Client, connectionString: opts.databaseUrl, max: 2, connectionTimeoutMillis: 1000 });
    for (const p of [pool, livePool]) p.on("error", (err) => opts.onError?.(err));
    const db = drizzle(pool, { schema });
    await startupRetry(opts.onWait ?? (() => {})).execute(() => migrate(db, { migrationsFolder: MIGRATIONS_DIR }));
    return {
      db: db as unknown as Db,
      liveDb: drizzle(livePool, { schema }) as unknown as Db,
      kind: "postgres",
      close: async () => {
        await Promise.all([pool.end(), livePool.end()]);
      },
    };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  const dir = path.join(opts.dataDir, "pglite");
  mkdirSync(dir, { recursive: true });
  const client = new PGlite(dir);
  await client.waitReady;
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return { db: db as unknown as Db, liveDb: db as unknown as Db, kind: "pglite", close: () => client.close() };
}

/** Run raw SQL and return its rows (node-postgres and PGlite both expose `.rows`). */
export async function queryRows<T>(executor: Pick<Db, "execute">, query: import("drizzle-orm").SQL): Promise<T[]> {
  const result = (await executor.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

/** A json/jsonb value from raw SQL: parsed by node-postgres, but text from some drivers (PGlite). */
export const parseJson = <T>(v: T | string): T => (typeof v === "string" ? (JSON.parse(v) as T) : v);

/** Distinct statement texts given a name; beyond it new texts run unnamed (each name costs every connection memory). */
const MAX_NAMED_STATEMENTS = 256;
const statementNames = new Map<string, string>();

/**
 * A pg Client that names every parameterised statement after a hash of its text, so each
 * connection parses it once and Postgres can reuse its plan. Unnamed, every statement was
 * parsed and planned again: half of the database's CPU per stage in the dispatch benchmark.
 * Statements without parameters (BEGIN, migrations with several statements) stay unnamed:
 * a named statement goes through the extended protocol, which takes one statement only.
 */
export function preparingClient(Base: typeof PgClient): typeof PgClient {
  return class PreparingClient extends Base {
    constructor(...args: ConstructorParameters<typeof PgClient>) {
      super(...args);
      // A client checked out of the pool (in a transaction) has no error listener, and a
      // backend ended under it (pg_terminate_backend, a database restart) would emit an
      // unhandled 'error' and crash the server. The failure reaches the caller through its
      // query, and the pool drops the client on release (it is no longer queryable).
      this.on("error", () => undefined);
    }

    override query(...args: unknown[]): never {
      const config = args[0] as { text?: unknown; values?: unknown[]; name?: string } | undefined;
      const values = config?.values ?? args[1]; // drizzle passes them beside the config
      if (
        config &&
        typeof config === "object" &&
        typeof config.text === "string" &&
        config.name === undefined &&
        Array.isArray(values) &&
        values.length > 0
      ) {
        const name = statementName(config.text);
        if (name) args[0] = { ...config, name };
      }
      return (super.query as (...a: unknown[]) => never)(...args);
    }
  } as unknown as typeof PgClient;
}

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS && text.length <= 64 * 1024) {
    name = `dy_${createHash("sha1").update(text).digest("hex").slice(0, 32)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** SQLSTATE classes and driver errors that mean "the database is not reachable now" (not a bad query). */
const UNAVAILABLE_CODES = new Set([
  "57P01",
  "57P02",
  "57P03",
  "55000",
  "53300",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
]);

/** Whether `err` (or its cause) says the database is unreachable or refusing connections. */
export function isDbUnavailable(err: unknown): boolean {
  for (let e = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || code.startsWith("08"))) return true;
    const message = String((e as { message?: unknown }).message ?? "");
    if (
      /Connection terminated|timeout exceeded when trying to connect|not currently accepting connections|Client has encountered a connection error/i.test(
        message,
      )
    )
      return true;
  }
  return false;
}
