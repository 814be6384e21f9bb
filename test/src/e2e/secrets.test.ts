// The secret store end to end (server side): set/list/rm over gRPC, only
// ciphertext in Postgres, names (never values) in runs and stages, the submit
// check for missing secrets, key rotation, and the CLI commands.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { status, type ServiceError } from "@grpc/grpc-js";
import { toBinary } from "@bufbuild/protobuf";
import { ListSecretsResponseSchema, SetSecretResponseSchema } from "@dockyard/proto";
import { Keyring, keyIdOf, loadKeyring, openDatabase, SecretStore, type Database } from "@dockyard/control-plane";
import { createTestDatabase, freePort, REPO_ROOT, startFarm, submit, type Farm, type TestDatabase } from "../index";
import { tempDir } from "@dockyard/testkit";

const VALUE = Buffer.from(`s3cr3t-${randomBytes(12).toString("hex")}`);

/** Every spelling of `value` a careless store or log could contain. */
function spellings(value: Buffer): string[] {
  return [
    value.toString("utf8"),
    value.toString("base64"),
    value.toString("base64url"),
    value.toString("hex"),
    value.toString("hex").toUpperCase(),
  ];
}

/** Fails if any column of any row holds `value` raw, as text, base64 or hex. */
function assertNoValue(rows: Record<string, unknown>[], value: Buffer, where: string): void {
  for (const row of rows) {
    for (const [column, cell] of Object.entries(row)) {
      if (cell === null || cell === undefined) continue;
      const bytes = Buffer.isBuffer(cell) ? cell : Buffer.from(typeof cell === "string" ? cell : JSON.stringify(cell));
      assert.ok(!bytes.includes(value), `${where}.${column} holds the value's bytes`);
      const texts = [bytes.toString("utf8"), bytes.toString("latin1"), bytes.toString("hex"), bytes.toString("base64")];
      for (const text of texts)
        for (const s of spellings(value))
          assert.ok(!text.includes(s), `${where}.${column} holds the value as '${s.slice(0, 6)}…'`);
    }
  }
}

const grpcError = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail("expected the call to fail"),
    (e: ServiceError) => e,
  );

function keyFile(dir: string, key: Buffer): string {
  const f = path.join(dir, `${keyIdOf(key)}.key`);
  writeFileSync(f, `${key.toString("hex")}\n`, { mode: 0o600 });
  return f;
}

describe("secret store over gRPC", () => {
  let farm: Farm;
  before(async () => {
    // A fixed port: the rotation test restarts the server and the client keeps its address.
    farm = await startFarm({ env: { DOCKYARD_GRPC_LISTEN: `127.0.0.1:${await freePort()}` } });
  });
  after(async () => farm?.stop());

  it("sets, lists and removes secrets; no answer carries a value", async () => {
    const first = await farm.client.setSecret({ name: "deploy-token", value: VALUE });
    assert.equal(first.created, true);
    assert.equal(first.secret?.name, "deploy-token");
    const again = await farm.client.setSecret({
      name: "deploy-token",
      value: Buffer.concat([VALUE, Buffer.from("-v2")]),
    });
    assert.equal(again.created, false);
    assert.equal(again.secret?.createdAtMs, first.secret?.createdAtMs);
    assert.ok(again.secret!.updatedAtMs >= first.secret!.updatedAtMs);
    await farm.client.setSecret({ name: "Other.Secret_2", value: Buffer.from("another value") });

    const list = await farm.client.listSecrets({});
    assert.deepEqual(
      list.secrets.map((s) => s.name),
      ["Other.Secret_2", "deploy-token"],
    );
    for (const bytes of [toBinary(ListSecretsResponseSchema, list), toBinary(SetSecretResponseSchema, again)]) {
      assert.ok(!Buffer.from(bytes).includes(VALUE), "an answer holds the value");
    }

    await farm.client.deleteSecret({ name: "Other.Secret_2" });
    assert.deepEqual(
      (await farm.client.listSecrets({})).secrets.map((s) => s.name),
      ["deploy-token"],
    );
    const gone = await grpcError(farm.client.deleteSecret({ name: "Other.Secret_2" }));
    assert.equal(gone.code, status.NOT_FOUND);
    assert.match(gone.details, /secret not found: Other\.Secret_2/);
  });

  it("keeps only ciphertext in the secrets table", async () => {
    await farm.client.setSecret({ name: "db-password", value: VALUE });
    const { rows } = await farm.pg.query("SELECT * FROM secrets");
    assert.ok(rows.length >= 1);
    assertNoValue(rows, VALUE, "secrets");
    const json = await farm.pg.query("SELECT row_to_json(s)::text AS row FROM secrets s");
    assertNoValue(json.rows, VALUE, "secrets(json)");
    const row = rows.find((r) => r.name === "db-password");
    assert.match(row.key_id, /^[0-9a-f]{16}$/);
    assert.equal(row.nonce.length, 12);
    assert.equal(row.ciphertext.length, VALUE.length + 16);
  });

  it("refuses short values, bad names and oversized requests with clear messages, storing nothing", async () => {
    const before = (await farm.client.listSecrets({})).secrets.length;
    const short = await grpcError(farm.client.setSecret({ name: "pin", value: Buffer.from("1234567") }));
    assert.equal(short.code, status.INVALID_ARGUMENT);
    assert.equal(
      short.details,
      "secrets shorter than 8 characters are refused: they cannot be masked in logs without masking ordinary output",
    );
    const badName = await grpcError(farm.client.setSecret({ name: "no spaces", value: VALUE }));
    assert.equal(badName.code, status.INVALID_ARGUMENT);
    assert.match(badName.details, /invalid secret name 'no spaces'/);
    const longName = await grpcError(farm.client.setSecret({ name: "n".repeat(300), value: VALUE }));
    assert.match(longName.details, /secret name is 300 characters; the limit is 63/);
    const big = await grpcError(farm.client.setSecret({ name: "big", value: Buffer.alloc(64 * 1024 + 1, "x") }));
    assert.equal(big.code, status.INVALID_ARGUMENT);
    assert.match(big.details, /larger than 64 KiB/);
    for (const e of [short, badName, longName, big])
      assert.ok(!e.details.includes(VALUE.toString()), "an error shows the value");
    assert.equal((await farm.client.listSecrets({})).secrets.length, before);
  });

  it("refuses a submit naming a missing secret, with where it is used, and writes nothing", async () => {
    const counts = async () =>
      (
        await farm.pg.query(
          "SELECT (SELECT count(*) FROM runs)::int AS runs, (SELECT count(*) FROM stages)::int AS stages",
        )
      ).rows[0];
    const start = await counts();
    const yaml = [
      "name: missing",
      "env:",
      "  SHARED: { secret: shared-key }",
      "stages:",
      "  build: { image: dockyard/busybox:1, command: 'true' }",
      "  deploy:",
      "    image: dockyard/busybox:1",
      "    command: ./deploy.sh",
      "    env:",
      "      DEPLOY_TOKEN: { secret: ghost-token }",
      "      KEY: { secret: ghost-token, file: true }",
      "",
    ].join("\n");
    const err = await grpcError(submit(farm.client, yaml));
    assert.equal(err.code, status.INVALID_ARGUMENT);
    assert.equal(
      err.details,
      [
        "secret 'shared-key' does not exist (env.SHARED); create it with: dockyard secret set shared-key",
        "secret 'ghost-token' does not exist (stages.deploy.env.DEPLOY_TOKEN, stages.deploy.env.KEY); create it with: dockyard secret set ghost-token",
      ].join("\n"),
    );
    assert.deepEqual(await counts(), start);
  });

  it("stores the secret's name, never its value, in runs.pipeline_yaml, stages.spec and events", async () => {
    await farm.client.setSecret({ name: "deploy-token", value: VALUE });
    const runId = await submit(
      farm.client,
      [
        "name: with-secrets",
        "env:",
        "  PLAIN: visible",
        "  TOKEN: { secret: deploy-token }",
        "stages:",
        "  deploy:",
        "    image: dockyard/busybox:1",
        "    command: ./deploy.sh",
        "    env:",
        "      KEYFILE: { secret: db-password, file: true }",
        "",
      ].join("\n"),
    );
    const run = (await farm.pg.query("SELECT * FROM runs WHERE id = $1", [runId])).rows;
    assert.match(run[0].pipeline_yaml, /secret: deploy-token/);
    assertNoValue(run, VALUE, "runs");
    const stages = (await farm.pg.query("SELECT * FROM stages WHERE run_id = $1", [runId])).rows;
    assert.deepEqual(stages[0].spec.env, { PLAIN: "visible" });
    assert.deepEqual(stages[0].spec.secrets, [
      { env: "TOKEN", secret: "deploy-token", asFile: false },
      { env: "KEYFILE", secret: "db-password", asFile: true },
    ]);
    assertNoValue(stages, VALUE, "stages");
    assertNoValue(
      (await farm.pg.query("SELECT * FROM run_events WHERE run_id = $1", [runId])).rows,
      VALUE,
      "run_events",
    );
  });

  it("re-encrypts rows sealed with an old key when the server starts with a new one", async () => {
    const oldFile = farm.config.secretKeyFile;
    const oldRing = loadKeyring({ keyFile: oldFile });
    await farm.client.setSecret({ name: "rotated", value: VALUE });
    const keyIds = async () => (await farm.pg.query("SELECT DISTINCT key_id FROM secrets")).rows.map((r) => r.key_id);
    assert.deepEqual(await keyIds(), [oldRing.currentKeyId]);

    const newKey = randomBytes(32);
    await farm.stopServer();
    farm.config.secretKeyFile = keyFile(tempDir("keys"), newKey);
    farm.config.secretOldKeyFiles = [oldFile];
    await farm.startServer();
    assert.deepEqual(await keyIds(), [keyIdOf(newKey)]);

    // Readable with the new key alone; the old one no longer opens anything.
    const [value] = await new SecretStore(farm.server.db.db, new Keyring(newKey)).values([
      { env: "X", secret: "rotated", asFile: false },
    ]);
    assert.deepEqual(value?.value, VALUE);
    await assert.rejects(
      new SecretStore(farm.server.db.db, oldRing).values([{ env: "X", secret: "rotated", asFile: false }]),
      /which is not configured/,
    );
    assert.ok((await farm.client.listSecrets({})).secrets.some((s) => s.name === "rotated"));
    assertNoValue((await farm.pg.query("SELECT * FROM secrets")).rows, VALUE, "secrets");
  });

  it("the CLI sets from stdin or a file, lists without values and removes", async () => {
    const dockyard = (args: string[], stdin?: Buffer) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(path.join(REPO_ROOT, "cli/bin/dockyard"), args, {
          cwd: os.tmpdir(),
          env: {
            ...process.env,
            DOCKYARD_SERVER: farm.server.grpcAddress,
            DOCKYARD_TOKEN: farm.apiToken,
            DOCKYARD_CA_FILE: farm.caFile,
            NO_COLOR: "1",
          },
          stdio: ["pipe", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(stdin ?? Buffer.alloc(0));
      });
    const set = await dockyard(["secret", "set", "cli-token"], Buffer.concat([VALUE, Buffer.from("\n")]));
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, "secret cli-token created\n");
    const [stored] = await new SecretStore(
      farm.server.db.db,
      loadKeyring({ keyFile: farm.config.secretKeyFile, oldKeyFiles: farm.config.secretOldKeyFiles }),
    ).values([{ env: "X", secret: "cli-token", asFile: false }]);
    assert.deepEqual(stored?.value, VALUE, "exactly one trailing newline stripped");

    const valueFile = path.join(tempDir("secret"), "v");
    writeFileSync(valueFile, "from a file, long enough");
    const update = await dockyard(["secret", "set", "cli-token", "--file", valueFile]);
    assert.equal(update.stdout, "secret cli-token updated\n", update.stderr);

    const short = await dockyard(["secret", "set", "cli-short"], Buffer.from("abc\n"));
    assert.equal(short.code, 1);
    assert.match(short.stderr, /secrets shorter than 8 characters are refused/);

    const table = await dockyard(["secret", "list"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+CREATED\s+UPDATED\n/);
    assert.match(table.stdout, /\ncli-token\s+\d{4}-\d\d-\d\d /);
    const json = JSON.parse((await dockyard(["secret", "list", "--json"])).stdout) as {
      name: string;
      createdAt: string;
    }[];
    assert.ok(json.some((s) => s.name === "cli-token" && /^\d{4}-/.test(s.createdAt)));
    for (const out of [table.stdout, JSON.stringify(json)])
      assert.ok(!out.includes(VALUE.toString()) && !out.includes("from a file"));

    assert.equal((await dockyard(["secret", "rm", "cli-token"])).stdout, "secret cli-token deleted\n");
    const again = await dockyard(["secret", "rm", "cli-token"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /secret not found: cli-token/);
  });
});

describe("SecretStore against Postgres", () => {
  let database: TestDatabase;
  let db: Database;
  before(async () => {
    database = await createTestDatabase();
    db = await openDatabase({ databaseUrl: database.url, dataDir: "", poolSize: 2 });
  });
  after(async () => {
    await db?.close();
    await database?.drop();
  });

  it("opens rows sealed with an old key, re-seals them on rotate, and reports rows no key opens", async () => {
    const now = new Date();
    const oldKey = randomBytes(32);
    const oldStore = new SecretStore(db.db, new Keyring(oldKey));
    await oldStore.set("alpha", VALUE, now);
    await oldStore.set("beta", Buffer.from("beta-value"), now);
    await new SecretStore(db.db, new Keyring(randomBytes(32))).set(
      "lost-key",
      Buffer.from("sealed by a forgotten key"),
      now,
    );

    const newKey = randomBytes(32);
    const store = new SecretStore(db.db, new Keyring(newKey, [oldKey]));
    const refs = [
      { env: "A", secret: "alpha", asFile: false },
      { env: "B", secret: "beta", asFile: true },
    ];
    assert.deepEqual(
      (await store.values(refs)).map((v) => [v.env, v.value.toString(), v.asFile]),
      [
        ["A", VALUE.toString(), false],
        ["B", "beta-value", true],
      ],
    );

    const result = await store.rotate();
    assert.equal(result.rotated, 2);
    assert.equal(result.unreadable.length, 1);
    assert.equal(result.unreadable[0]?.name, "lost-key");
    assert.deepEqual(await store.rotate(), { rotated: 0, unreadable: result.unreadable });
    const newOnly = new SecretStore(db.db, new Keyring(newKey));
    assert.deepEqual(
      (await newOnly.values(refs)).map((v) => v.value.toString()),
      [VALUE.toString(), "beta-value"],
    );
  });

  it("binds a ciphertext to its name, and names secrets deleted since the submit", async () => {
    const store = new SecretStore(db.db, new Keyring(randomBytes(32)));
    const now = new Date();
    await store.set("source", VALUE, now);
    await store.set("target", Buffer.from("the target value"), now);
    // Move source's ciphertext onto target's row: the AAD (the name) no longer matches.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client
      .query(
        "UPDATE secrets SET nonce = s.nonce, ciphertext = s.ciphertext, key_id = s.key_id FROM secrets s WHERE secrets.name = 'target' AND s.name = 'source'",
      )
      .finally(() => client.end());
    await assert.rejects(store.values([{ env: "T", secret: "target", asFile: false }]), (err: Error) => {
      assert.match(err.message, /secret 'target' failed authentication/);
      assert.ok(!err.message.includes(VALUE.toString()));
      return true;
    });
    assert.deepEqual(await store.missing(["source", "nope", "source", "nope2"]), ["nope", "nope2"]);
    await store.remove("source", new Date());
    await assert.rejects(store.values([{ env: "S", secret: "source", asFile: false }]), /secret not found: source/);
    await assert.rejects(store.remove("source", new Date()), /secret not found: source/);
  });
});
