// scripts/test.sh's last step (its EXIT trap, also after a failed or interrupted run): drop the
// databases of run ARGV[2] (test/src/helpers/database.ts names them t_RUN_*), a few at a time
// so that their DROPs share checkpoints. Quiet unless something is left: the run's closing
// `# pass` / `# fail` lines stay last.
import pg from "pg";
import { ADMIN_URL, runDatabasePrefix } from "../helpers/database";

const AT_ONCE = 8;

async function dropRunDatabases(run: string): Promise<void> {
  const prefix = runDatabasePrefix(run);
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
      [prefix],
    );
    const names = rows.map((r) => r.datname);
    const workers = Array.from({ length: Math.min(AT_ONCE, names.length) }, async () => {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      try {
        for (let name = names.pop(); name; name = names.pop())
          await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    });
    await Promise.all(workers);
    const left = await admin.query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [prefix]);
    if (left.rows.length > 0) throw new Error(`test databases left: ${left.rows.map((r) => r.datname).join(", ")}`);
  } finally {
    await admin.end();
  }
}

dropRunDatabases(process.argv[2] ?? "").catch((err: Error) => {
  console.error(`dropping the test run's databases failed: ${err.message}`);
  process.exit(1);
});
