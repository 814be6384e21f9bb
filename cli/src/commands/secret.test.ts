import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { create, SecretInfoSchema } from "@dockyard/proto";
import { createCliContext, type Input } from "../cli-context";
import { runCli } from "../program";
import { MAX_SECRET_BYTES, readSecretValue, secretJson, secretsTable, stripOneLineEnding } from "./secret";
import { tempDir } from "@dockyard/testkit";

const sink = () => {
  let text = "";
  return {
    write: (s: string | Uint8Array) => (text += String(s)),
    get text() {
      return text;
    },
  };
};
const piped = (data: string | Buffer): Input => Readable.from([Buffer.from(data)]) as unknown as Input;
const file = (content: string | Buffer) => {
  const p = path.join(tempDir("secret-cli"), "value");
  writeFileSync(p, content);
  return p;
};

test("exactly one trailing line ending is stripped", () => {
  const s = (x: string) => stripOneLineEnding(Buffer.from(x)).toString();
  assert.equal(s("token\n"), "token");
  assert.equal(s("token\r\n"), "token");
  assert.equal(s("token\n\n"), "token\n");
  assert.equal(s("token "), "token ");
  assert.equal(s("token"), "token");
});

test("the value comes from a file or from a pipe, bytes exact", async () => {
  const err = sink();
  assert.equal(
    (await readSecretValue({ name: "a", file: file("from-a-file\n"), stdin: piped(""), err })).toString(),
    "from-a-file",
  );
  const binary = Buffer.from([0, 1, 2, 255, 10, 13, 10]);
  assert.deepEqual(
    await readSecretValue({ name: "a", file: file(binary), stdin: piped(""), err }),
    binary.subarray(0, -2),
  );
  assert.equal(
    (await readSecretValue({ name: "a", stdin: piped("multi\nline value\n"), err })).toString(),
    "multi\nline value",
  );
  assert.equal(err.text, "", "no prompt for a pipe");
});

test("empty, oversized and unreadable values are refused with clear messages", async () => {
  const err = sink();
  await assert.rejects(
    readSecretValue({ name: "tok", stdin: piped("\n"), err }),
    /refusing an empty value for secret tok/,
  );
  await assert.rejects(
    readSecretValue({ name: "tok", file: file(""), stdin: piped(""), err }),
    /refusing an empty value/,
  );
  const big = "x".repeat(MAX_SECRET_BYTES + 1);
  await assert.rejects(
    readSecretValue({ name: "tok", stdin: piped(big), err }),
    /stdin: secret values are limited to 64 KiB/,
  );
  await assert.rejects(
    readSecretValue({ name: "tok", file: file(`${big}\n`), stdin: piped(""), err }),
    /secret values are limited to 64 KiB/,
  );
  assert.equal(
    (await readSecretValue({ name: "tok", stdin: piped(`${"y".repeat(MAX_SECRET_BYTES)}\n`), err })).length,
    MAX_SECRET_BYTES,
  );
  await assert.rejects(
    readSecretValue({ name: "tok", file: "/nonexistent/value", stdin: piped(""), err }),
    /cannot read \/nonexistent\/value: no such file/,
  );
});

test("on a terminal: a prompt on stderr, one line read in raw mode (no echo), backspace honoured", async () => {
  const tty = Object.assign(new PassThrough(), {
    isTTY: true,
    modes: [] as boolean[],
    setRawMode(m: boolean) {
      this.modes.push(m);
    },
  });
  const err = sink();
  const reading = readSecretValue({ name: "deploy-token", stdin: tty as unknown as Input, err });
  tty.write("s3cret-vaé\x7f\x7flue!\rignored");
  const value = await reading;
  assert.equal(value.toString(), "s3cret-vlue!");
  assert.equal(err.text, "value for secret deploy-token (not echoed): \n");
  assert.deepEqual(tty.modes, [true, false]);
  const ctrlC = Object.assign(new PassThrough(), { isTTY: true, setRawMode() {} });
  const aborted = readSecretValue({ name: "x", stdin: ctrlC as unknown as Input, err: sink() });
  ctrlC.write("abc\x03");
  await assert.rejects(
    aborted,
    (e: Error & { exitCode?: number }) => e.message === "interrupted" && e.exitCode === 130,
  );
});

test("secret set refuses a value given as an argument, before contacting any server", async () => {
  const out = sink();
  const err = sink();
  const cli = createCliContext({
    out,
    err,
    env: { DOCKYARD_SERVER: "127.0.0.1:1", DOCKYARD_INSECURE: "1" },
    stdin: piped("unused-value"),
  });
  const code = await runCli(["secret", "set", "deploy-token", "hunter2hunter2"], cli);
  assert.equal(code, 2);
  assert.match(err.text, /takes no value argument/);
  assert.doesNotMatch(out.text + err.text, /hunter2/);
});

test("list renders names and times only, as a table and as JSON", () => {
  const s = create(SecretInfoSchema, {
    name: "deploy-token",
    createdAtMs: 1_700_000_000_000n,
    updatedAtMs: 1_700_000_100_000n,
  });
  const table = secretsTable([s]);
  assert.match(table, /^NAME\s+CREATED\s+UPDATED\ndeploy-token\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d{4}-/);
  assert.equal(secretsTable([]), "no secrets\n");
  assert.deepEqual(secretJson(s), {
    name: "deploy-token",
    createdAt: "2023-11-14T22:13:20.000Z",
    updatedAt: "2023-11-14T22:15:00.000Z",
  });
});
