// A starting server waits for its database instead of exiting: Postgres that begins to listen
// a moment after the server started (compose, a host's boot), and a full or slow one, are met
// with retries for about a minute; a database that does not exist fails at once, by name.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { openDatabase } from "@dockyard/control-plane";
import { tempDir } from "@dockyard/testkit";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { freePort } from "../helpers/farm";

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(() => database?.drop());

/** The test database's URL on `port` instead of Postgres' own. */
function urlOn(port: number, name = database.name): string {
  const u = new URL(database.url);
  u.port = String(port);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Forwards 127.0.0.1:`port` to Postgres (5432), from when it is called. */
function lateListener(port: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(new URL(database.url).port || 5432), "127.0.0.1");
    for (const s of [client, upstream]) s.on("error", () => s.destroy());
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

test("a server started before Postgres listens waits for it, then opens and migrates its database", async () => {
  const port = await freePort();
  const waits: string[] = [];
  let listener: Promise<net.Server> | undefined;
  const db = await openDatabase({
    databaseUrl: urlOn(port),
    dataDir: tempDir("db-wait"),
    poolSize: 2,
    onWait: (err) => {
      waits.push((err as Error).message);
      listener ??= lateListener(port); // Postgres "starts" after the first refused try
    },
  });
  try {
    assert.ok(waits.length >= 1, "the first try found nothing listening");
    assert.match(waits[0]!, /ECONNREFUSED|Failed query/);
    const rows = (await db.db.execute("SELECT count(*)::int AS n FROM agents")) as unknown as { rows: { n: number }[] };
    assert.equal(rows.rows[0]!.n, 0, "migrated: the agents table is there");
  } finally {
    await db.close();
    (await listener)?.close();
  }
});

test("a database that does not exist is an error at once, naming it; no waiting", async () => {
  const waits: unknown[] = [];
  await assert.rejects(
    openDatabase({
      databaseUrl: urlOn(Number(new URL(database.url).port || 5432), "no_such_database_here"),
      dataDir: tempDir("db-wait"),
      poolSize: 1,
      onWait: (err) => waits.push(err),
    }),
    (err: Error) => /database "no_such_database_here" does not exist/.test(`${err.message} ${String(err.cause)}`),
  );
  assert.deepEqual(waits, []);
});
