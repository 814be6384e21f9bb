// ensurePki with operator-provided certFile/keyFile/caFile.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InvalidError } from "../errors";
import { PkiFileError } from "./files";
import { ensurePki } from "./pki";
import { tempDir } from "@dockyard/testkit";

const newDir = () => tempDir("pki-op");

/** A CA and serving certificate made elsewhere (here: by ensurePki in another directory). */
async function operatorMaterial() {
  const dir = newDir();
  const pki = await ensurePki({ dir, sans: [] });
  return { dir, pki, cert: join(dir, "server.crt"), key: join(dir, "server.key"), ca: join(dir, "ca.crt") };
}

test("given files are used as they are; only signing.key and farm.key are made in dir", async () => {
  const op = await operatorMaterial();
  const dir = join(newDir(), "pki");
  const pki = await ensurePki({ dir, sans: ["ignored.example"], certFile: op.cert, keyFile: op.key, caFile: op.ca });
  assert.equal(pki.caFingerprint, op.pki.caFingerprint);
  assert.equal(pki.caPem, op.pki.caPem);
  assert.equal(pki.serverKeyPem, readFileSync(op.key, "utf8"));
  assert.equal(pki.serverCertChainPem, readFileSync(op.cert, "utf8") + op.pki.caPem, "the CA appended");
  assert.deepEqual(readdirSync(dir).sort(), ["farm.key", "signing.key"]);
  assert.deepEqual(pki.files, {
    signingKey: join(dir, "signing.key"),
    farmKey: join(dir, "farm.key"),
    ca: op.ca,
    serverCert: op.cert,
    serverKey: op.key,
  });
  assert.equal(
    readFileSync(op.cert, "utf8"),
    readFileSync(join(op.dir, "server.crt"), "utf8"),
    "operator files untouched",
  );

  // A cert file that already holds the chain is not given the CA twice.
  const chainFile = join(newDir(), "chain.pem");
  writeFileSync(chainFile, op.pki.serverCertChainPem);
  const again = await ensurePki({ dir, sans: [], certFile: chainFile, keyFile: op.key, caFile: op.ca });
  assert.equal(again.serverCertChainPem, op.pki.serverCertChainPem);
  assert.equal(again.farmKey.toString("hex"), pki.farmKey.toString("hex"));
});

test("all three files or none", async () => {
  const op = await operatorMaterial();
  await assert.rejects(
    ensurePki({ dir: newDir(), sans: [], certFile: op.cert, keyFile: op.key }),
    (err: Error) =>
      err instanceof InvalidError && /certificate, its key and the CA certificate together/.test(err.message),
  );
});

test("unreadable, non-PEM and mismatched files are named in the error", async () => {
  const op = await operatorMaterial();
  const other = await operatorMaterial();
  const dir = newDir();
  const bad = join(newDir(), "bad.pem");
  writeFileSync(bad, "this is not a certificate\n");
  const missing = join(newDir(), "missing.pem");
  const fails = async (files: { cert?: string; key?: string; ca?: string }, file: string, why: RegExp) => {
    await assert.rejects(
      ensurePki({
        dir,
        sans: [],
        certFile: files.cert ?? op.cert,
        keyFile: files.key ?? op.key,
        caFile: files.ca ?? op.ca,
      }),
      (err: Error) => {
        assert.ok(err instanceof PkiFileError, String(err));
        assert.equal(err.file, file);
        assert.ok(err.message.startsWith(`${file}: `), err.message);
        assert.match(err.message, why);
        return true;
      },
    );
  };
  await fails({ cert: missing }, missing, /no such file/);
  await fails({ key: missing }, missing, /no such file/);
  await fails({ ca: missing }, missing, /no such file/);
  await fails({ cert: bad }, bad, /not PEM: no CERTIFICATE block/);
  await fails({ key: bad }, bad, /not PEM: no PRIVATE KEY or EC PRIVATE KEY or RSA PRIVATE KEY block/);
  await fails({ ca: bad }, bad, /not PEM: no CERTIFICATE block/);
  await fails({ key: op.ca }, op.ca, /not PEM/); // a certificate where the key belongs
  await fails({ key: other.key }, other.key, new RegExp(`does not match the certificate in ${op.cert}`));
  await fails({ ca: other.ca }, op.cert, new RegExp(`is not signed by the CA in ${other.ca}`));

  const garbled = join(newDir(), "garbled.pem");
  writeFileSync(garbled, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  await fails({ ca: garbled }, garbled, /not a valid certificate/);
});
