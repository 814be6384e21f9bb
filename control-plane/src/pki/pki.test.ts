import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { certSans } from "./ca";
import { PkiFileError } from "./files";
import { ensurePki, type Pki } from "./pki";
import { tempDir } from "@dockyard/testkit";

const newDir = () => tempDir("pki");
const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const leafOf = (pki: Pki) =>
  pki.serverCertChainPem.slice(0, pki.serverCertChainPem.indexOf("-----END CERTIFICATE-----") + 26);
const sanValues = (pem: string) => certSans(pem).map((s) => s.value);
/** What must agree between two loads of one directory. */
const identity = (p: Pki) => ({
  ca: p.caFingerprint,
  caPem: p.caPem,
  chain: sha(p.serverCertChainPem),
  key: sha(p.serverKeyPem),
  signing: Buffer.from(p.signingKey.publicRaw).toString("hex"),
  farm: p.farmKey.toString("hex"),
});

test("first start creates the files with their modes; a second start loads the same material", async () => {
  const dir = join(newDir(), "pki");
  const first = await ensurePki({ dir, sans: [] });
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const modes = Object.fromEntries(readdirSync(dir).map((f) => [f, (statSync(join(dir, f)).mode & 0o777).toString(8)]));
  assert.deepEqual(modes, {
    "ca.crt": "644",
    "ca.key": "600",
    "server.crt": "644",
    "server.key": "600",
    "signing.key": "600",
    "farm.key": "600",
  });
  assert.deepEqual(first.files, {
    ca: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    signingKey: join(dir, "signing.key"),
    farmKey: join(dir, "farm.key"),
  });

  // The CA: fingerprint of its DER, P-256, CA:TRUE, 10 years.
  const ca = new X509Certificate(first.caPem);
  assert.match(first.caFingerprint, /^[0-9a-f]{64}$/);
  assert.equal(first.caFingerprint, sha(ca.raw));
  assert.equal(first.caPem, readFileSync(join(dir, "ca.crt"), "utf8"));
  assert.equal(ca.subject, "CN=Dockyard farm CA");
  assert.ok(ca.ca);
  assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  const years = (c: X509Certificate) => (Date.parse(c.validTo) - Date.now()) / (365.25 * 86_400_000);
  assert.ok(Math.abs(years(ca) - 10) < 0.01, `CA valid ${years(ca)} years`);

  // The chain: leaf signed by the CA, then the CA; the key matches the leaf.
  const leaf = new X509Certificate(leafOf(first));
  assert.equal(first.serverCertChainPem, leafOf(first) + first.caPem);
  assert.ok(leaf.verify(ca.publicKey) && leaf.checkIssued(ca) && !leaf.ca);
  assert.ok(leaf.checkPrivateKey(createPrivateKey(first.serverKeyPem)));
  assert.ok(Math.abs(years(leaf) - 2) < 0.01, `serving cert valid ${years(leaf)} years`);
  assert.deepEqual(leaf.keyUsage, ["1.3.6.1.5.5.7.3.1"], "serverAuth");
  for (const san of ["localhost", "127.0.0.1", "::1"]) assert.ok(sanValues(leafOf(first)).includes(san), san);

  assert.equal(first.farmKey.length, 32);
  assert.match(readFileSync(join(dir, "farm.key"), "utf8"), /^[0-9a-f]{64}\n$/);
  assert.equal(first.signingKey.publicRaw.length, 32);
  assert.match(readFileSync(join(dir, "signing.key"), "utf8"), /^-----BEGIN PRIVATE KEY-----/);

  const before = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")]));
  const second = await ensurePki({ dir, sans: [] });
  assert.deepEqual(identity(second), identity(first));
  const after = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")]));
  assert.deepEqual(after, before, "nothing rewritten");
});

test("concurrent first starts in one process agree", async () => {
  const dir = join(newDir(), "pki");
  const all = await Promise.all(Array.from({ length: 6 }, () => ensurePki({ dir, sans: [] })));
  for (const p of all) assert.deepEqual(identity(p), identity(all[0]!));
  assert.deepEqual(identity(await ensurePki({ dir, sans: [] })), identity(all[0]!));
});

test("concurrent first starts of two processes agree", async () => {
  const dir = join(newDir(), "pki");
  const pkiModule = join(dirname(fileURLToPath(import.meta.url)), "pki.ts");
  const goAt = Date.now() + 3000; // both wait for this moment, so their first starts overlap
  const script = `(async () => {
    const { ensurePki } = await import(${JSON.stringify(pkiModule)});
    const { createHash } = await import("node:crypto");
    await new Promise((r) => setTimeout(r, ${goAt} - Date.now()));
    const p = await ensurePki({ dir: ${JSON.stringify(dir)}, sans: [] });
    const sha = (s) => createHash("sha256").update(s).digest("hex");
    console.log(JSON.stringify({ ca: p.caFingerprint, caPem: p.caPem, chain: sha(p.serverCertChainPem), key: sha(p.serverKeyPem),
      signing: Buffer.from(p.signingKey.publicRaw).toString("hex"), farm: p.farmKey.toString("hex") }));
  })().catch((err) => { console.error(err); process.exit(1); });`;
  const run = () =>
    new Promise<Record<string, string>>((resolve, reject) =>
      execFile(
        process.execPath,
        ["--import", "tsx", "-e", script],
        { cwd: dirname(pkiModule), timeout: 30_000 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`child failed: ${stderr}`, { cause: err })) : resolve(JSON.parse(stdout)),
      ),
    );
  const [a, b] = await Promise.all([run(), run()]);
  assert.deepEqual(a, b);
  assert.deepEqual(identity(await ensurePki({ dir, sans: [] })), a);
});

test("a missing SAN reissues the serving certificate from the same CA, keeping the old SANs", async () => {
  const dir = newDir();
  const first = await ensurePki({ dir, sans: [] });
  const crt = () => readFileSync(join(dir, "server.crt"), "utf8");
  const key = readFileSync(join(dir, "server.key"), "utf8");

  const second = await ensurePki({ dir, sans: ["Build.Example.com", "10.1.2.3", "[fd00::7]", "0.0.0.0"] });
  assert.equal(second.caFingerprint, first.caFingerprint);
  assert.equal(second.caPem, first.caPem);
  assert.notEqual(leafOf(second), leafOf(first));
  assert.equal(crt(), leafOf(second));
  assert.equal(readFileSync(join(dir, "server.key"), "utf8"), key, "same key");
  const sans = sanValues(leafOf(second));
  for (const s of ["localhost", "127.0.0.1", "::1", "build.example.com", "10.1.2.3", "fd00::7"])
    assert.ok(sans.includes(s), `${s} in ${sans}`);
  assert.ok(!sans.includes("0.0.0.0"));
  assert.ok(new X509Certificate(leafOf(second)).verify(new X509Certificate(first.caPem).publicKey));

  const third = await ensurePki({ dir, sans: ["other.example"] });
  const union = sanValues(leafOf(third));
  for (const s of ["build.example.com", "10.1.2.3", "other.example"]) assert.ok(union.includes(s), `${s} in ${union}`);

  const unchanged = crt();
  const fourth = await ensurePki({ dir, sans: ["fd00:0:0::7", "BUILD.example.com."] }); // same names, other spellings
  assert.equal(crt(), unchanged, "no reissue when every SAN is there");
  assert.equal(fourth.caFingerprint, first.caFingerprint);
});

test("a serving certificate from another CA is reissued; a CA that lost its key is an error", async () => {
  const dir = newDir();
  const mine = await ensurePki({ dir, sans: [] });
  const other = newDir();
  await ensurePki({ dir: other, sans: [] });
  copyFileSync(join(other, "server.crt"), join(dir, "server.crt"));
  const again = await ensurePki({ dir, sans: [] });
  assert.equal(again.caFingerprint, mine.caFingerprint);
  assert.ok(new X509Certificate(leafOf(again)).verify(new X509Certificate(mine.caPem).publicKey));

  rmSync(join(dir, "ca.key"));
  await assert.rejects(
    ensurePki({ dir, sans: [] }),
    (err: Error) =>
      err instanceof PkiFileError &&
      err.file === join(dir, "ca.key") &&
      /missing while ca.crt exists/.test(err.message),
  );
  copyFileSync(join(other, "ca.key"), join(dir, "ca.key"));
  await assert.rejects(ensurePki({ dir, sans: [] }), new RegExp(`${join(dir, "ca.crt")}: does not match ca.key`));
});

test("damaged generated files are reported by name", async () => {
  const dir = newDir();
  await ensurePki({ dir, sans: [] });
  writeFileSync(join(dir, "farm.key"), "too short\n");
  await assert.rejects(
    ensurePki({ dir, sans: [] }),
    new RegExp(`^PkiFileError: ${join(dir, "farm.key")}: expected 64 hex characters`),
  );
  rmSync(join(dir, "farm.key"));
  writeFileSync(join(dir, "signing.key"), "garbage");
  await assert.rejects(ensurePki({ dir, sans: [] }), new RegExp(`^PkiFileError: ${join(dir, "signing.key")}: not PEM`));
  rmSync(join(dir, "signing.key"));
  await ensurePki({ dir, sans: [] }); // both made anew
  copyFileSync(join(dir, "signing.key"), join(dir, "server.key")); // an Ed25519 key where a P-256 one belongs
  await assert.rejects(
    ensurePki({ dir, sans: [] }),
    new RegExp(
      `^PkiFileError: ${join(dir, "server.key")}: not a valid ECDSA P-256 private key \\(expected an ECDSA P-256 private key, got ed25519\\)$`,
    ),
  );
});
