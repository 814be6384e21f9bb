// Opens the database: Postgres through `pg` when DATABASE_URL is set, else an
// embedded PGlite in the data directory (single-node farms need no server).
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema";

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
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.databaseUrl) {
    const { default: pg } = await import("pg");
    const { drizzle } = await import("drizzle-orm/node-postgres");
    const { migrate } = await import("drizzle-orm/node-postgres/migrator");
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? Number(process.env.DOCKYARD_DB_POOL_SIZE ?? 20) });
    const livePool = new pg.Pool({ connectionString: opts.databaseUrl, max: 2 });
    for (const p of [pool, livePool]) p.on("error", (err) => opts.onError?.(err));
    const db = drizzle(pool, { schema });
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
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
