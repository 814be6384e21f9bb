import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Keyring, KeyFileError, keyIdOf, loadKeyring } from "./keyring";
import { loadConfig } from "../config";
import { tempDir } from "@dockyard/testkit";

const tmp = () => tempDir("keyring");
const keyFile = (dir: string, name: string, key = randomBytes(32)) => {
  const f = path.join(dir, name);
  writeFileSync(f, `${key.toString("hex")}\n`, { mode: 0o600 });
  return f;
};

describe("keyring", () => {
  it("creates a missing key file: 32 random bytes as hex, file 0600, new parent dir 0700", () => {
    const dir = path.join(tmp(), "data", "nested");
    const file = path.join(dir, "secret.key");
    const ring = loadKeyring({ keyFile: file });
    const text = readFileSync(file, "utf8");
    assert.match(text, /^[0-9a-f]{64}\n$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(
      ring.currentKeyId,
      createHash("sha256").update(Buffer.from(text.trim(), "hex")).digest("hex").slice(0, 16),
    );
    // The next start reads the same key.
    assert.equal(loadKeyring({ keyFile: file }).currentKeyId, ring.currentKeyId);
  });

  it("refuses a file that does not hold a 32-byte key, naming the file", () => {
    const dir = tmp();
    for (const content of ["short\n", "ab".repeat(31), "zz".repeat(32), randomBytes(32).toString("base64"), ""]) {
      const file = path.join(dir, "bad.key");
      writeFileSync(file, content);
      assert.throws(
        () => loadKeyring({ keyFile: file }),
        (err: Error) => {
          assert.ok(err instanceof KeyFileError);
          assert.match(
            err.message,
            new RegExp(`secret key file ${file.replace(/[.]/g, "\\.")}: does not hold a 32-byte key`),
          );
          return true;
        },
      );
    }
  });

  it("refuses a missing old key file (it is never created) and a key path that is a directory", () => {
    const dir = tmp();
    const missing = path.join(dir, "old.key");
    assert.throws(
      () => loadKeyring({ keyFile: keyFile(dir, "k"), oldKeyFiles: [missing] }),
      new RegExp(`${missing}: cannot read it: no such file`),
    );
    assert.throws(() => loadKeyring({ keyFile: dir }), /cannot read it: it is a directory/);
  });

  it("seals with a fresh nonce, opens only with the same name as AAD and an untouched ciphertext", () => {
    const ring = new Keyring(randomBytes(32));
    const value = Buffer.from("hunter2-hunter2");
    const a = ring.seal(value, "deploy-token");
    const b = ring.seal(value, "deploy-token");
    assert.equal(a.keyId, ring.currentKeyId);
    assert.equal(a.nonce.length, 12);
    assert.equal(a.ciphertext.length, value.length + 16);
    assert.notDeepEqual(a.nonce, b.nonce);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
    assert.deepEqual(ring.open(a, "deploy-token"), value);
    assert.throws(() => ring.open(a, "other-name"), /secret 'other-name' failed authentication/);
    const tampered = { ...a, ciphertext: Buffer.from(a.ciphertext) };
    tampered.ciphertext[0]! ^= 1;
    assert.throws(() => ring.open(tampered, "deploy-token"), /failed authentication/);
    assert.throws(
      () => ring.open({ ...a, keyId: "0000000000000000" }, "deploy-token"),
      /sealed with key 0000000000000000, which is not configured/,
    );
  });

  it("old keys open, only the current key seals; keyId is the first 16 hex of SHA-256(key)", () => {
    const dir = tmp();
    const oldKey = randomBytes(32);
    const oldRing = loadKeyring({ keyFile: keyFile(dir, "old.key", oldKey) });
    const sealed = oldRing.seal(Buffer.from("a value of some length"), "s1");
    const ring = loadKeyring({
      keyFile: keyFile(dir, "new.key"),
      oldKeyFiles: [path.join(dir, "old.key"), path.join(dir, "old.key")],
    });
    assert.equal(sealed.keyId, keyIdOf(oldKey));
    assert.deepEqual(ring.keyIds, [ring.currentKeyId, keyIdOf(oldKey)]);
    assert.equal(ring.open(sealed, "s1").toString(), "a value of some length");
    assert.equal(ring.seal(Buffer.from("x".repeat(8)), "s1").keyId, ring.currentKeyId);
  });

  it("config: key file defaults into the data dir; old key files are a comma-separated list", () => {
    const c = loadConfig({ DOCKYARD_DATA_DIR: "/var/lib/dockyard" });
    assert.equal(c.secretKeyFile, "/var/lib/dockyard/secret.key");
    assert.deepEqual(c.secretOldKeyFiles, []);
    const d = loadConfig({ DOCKYARD_SECRET_KEY_FILE: "/k/new", DOCKYARD_SECRET_OLD_KEY_FILES: "/k/a, /k/b,," });
    assert.equal(d.secretKeyFile, "/k/new");
    assert.deepEqual(d.secretOldKeyFiles, ["/k/a", "/k/b"]);
  });
});
