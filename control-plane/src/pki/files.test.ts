import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createFileOnce, pemBlocks, PkiFileError, readTextFile, replaceFile } from "./files";
import { tempDir } from "@dockyard/testkit";

const newDir = () => tempDir("pki-files");

test("createFileOnce creates with the mode, then keeps the first content", () => {
  const dir = newDir();
  const file = join(dir, "x.key");
  assert.deepEqual(createFileOnce(file, "first\n", 0o600), { content: "first\n", created: true });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(createFileOnce(file, "second\n", 0o600), { content: "first\n", created: false });
  assert.equal(readFileSync(file, "utf8"), "first\n");
  assert.deepEqual(readdirSync(dir), ["x.key"], "no temp file left behind");
});

test("createFileOnce: of many racing creators exactly one wins and all read its content", async () => {
  const file = join(newDir(), "farm.key");
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => Promise.resolve().then(() => createFileOnce(file, `content ${i}\n`, 0o600))),
  );
  assert.equal(results.filter((r) => r.created).length, 1);
  const winner = results.find((r) => r.created)!.content;
  for (const r of results) assert.equal(r.content, winner);
});

test("replaceFile swaps the content atomically and leaves no temp file", () => {
  const dir = newDir();
  const file = join(dir, "server.crt");
  writeFileSync(file, "old");
  replaceFile(file, "new", 0o644);
  assert.equal(readFileSync(file, "utf8"), "new");
  assert.equal(statSync(file).mode & 0o777, 0o644);
  assert.deepEqual(readdirSync(dir), ["server.crt"]);
});

test("errors name the file", () => {
  const dir = newDir();
  const missing = join(dir, "nope.pem");
  assert.throws(
    () => readTextFile(missing),
    (err: PkiFileError) =>
      err instanceof PkiFileError && err.file === missing && err.message === `${missing}: no such file`,
  );
  assert.throws(() => readTextFile(dir), new RegExp(`^PkiFileError: ${dir}: cannot read \\(EISDIR\\)`));
  assert.throws(
    () => pemBlocks("/x/ca.pem", "hello", ["CERTIFICATE"]),
    /^PkiFileError: \/x\/ca\.pem: not PEM: no CERTIFICATE block$/,
  );
  assert.throws(
    () => createFileOnce(join(dir, "no-such-dir", "f"), "x", 0o600),
    /no-such-dir\/f: cannot write \(ENOENT\)/,
  );
});

test("pemBlocks picks the blocks of the wanted labels, in order", () => {
  const cert = (s: string) => `-----BEGIN CERTIFICATE-----\n${s}\n-----END CERTIFICATE-----`;
  const text = `junk\n${cert("AAAA")}\r\n-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n${cert("CCCC")}`;
  assert.deepEqual(pemBlocks("f", text, ["CERTIFICATE"]), [`${cert("AAAA")}\n`, `${cert("CCCC")}\n`]);
  assert.equal(pemBlocks("f", text, ["PRIVATE KEY"]).length, 1);
});
