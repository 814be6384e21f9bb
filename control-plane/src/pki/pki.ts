// The server's key material: the farm CA and serving certificate for the agent
// API's TLS, the Ed25519 key that signs notices to agents, and the farm key the
// replicas seal their NATS messages with. Made at first start, loaded after.
import { randomBytes, X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { certFingerprint, generateKeyPair, keyPairFromPem, privateKeyPem, type KeyPair } from "@dockyard/proto";
import { InvalidError } from "../errors";
import {
  certSans,
  createCaCert,
  generateEcKeyPem,
  issueServerCert,
  mergeSans,
  parseEcKey,
  reissueReason,
  wantedSans,
} from "./ca";
import { createFileOnce, PkiFileError, pemBlocks, readIfExists, readTextFile, replaceFile } from "./files";

export interface PkiOptions {
  /** Directory where generated material lives (created 0700 if missing): e.g. `<dataDir>/pki`. */
  dir: string;
  /**
   * Extra subject alternative names for the serving certificate (DNS names or
   * IPs, IPv6 with or without brackets): listen hosts, public names. Unspecified
   * addresses (0.0.0.0, ::) are ignored. Not used with operator-provided files.
   */
  sans: string[];
  /**
   * Operator-provided files (all three or none): serving cert (PEM, may be a
   * chain), its key, and the CA cert that signed it (the first certificate in
   * caFile is the one agents pin).
   */
  certFile?: string;
  keyFile?: string;
  caFile?: string;
}

export interface Pki {
  /** The CA certificate (PEM): what agents trust. */
  caPem: string;
  /** Lowercase hex SHA-256 of the CA certificate's DER (64 chars): what a join token carries. */
  caFingerprint: string;
  /** The serving certificate (and any intermediates), then the CA cert, so a TLS client sees the CA in the chain. */
  serverCertChainPem: string;
  /** The serving certificate's private key (PEM). */
  serverKeyPem: string;
  /** Ed25519 key pair that signs what the server sends agents over NATS. */
  signingKey: KeyPair;
  /** 32 random bytes shared by server replicas (seals their NATS messages). */
  farmKey: Buffer;
  /**
   * The files, by role, for logs and docs: `ca`, `serverCert`, `serverKey`,
   * `signingKey`, `farmKey`, and `caKey` when the CA is generated.
   */
  files: Record<string, string>;
}

const SECRET = 0o600;
const PUBLIC = 0o644;

/** The content of `file`, or what `make` returns written to it atomically (the winner's, after a lost race). */
async function loadOrCreate(file: string, mode: number, make: () => string | Promise<string>): Promise<string> {
  return readIfExists(file) ?? createFileOnce(file, await make(), mode).content;
}

/** `parse(text)`, with any failure reported as a PkiFileError naming `file`. */
function parseFile<T>(file: string, what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof PkiFileError) throw err;
    throw new PkiFileError(file, `not a valid ${what} (${(err as Error).message})`, { cause: err });
  }
}

function loadSigningKey(file: string): Promise<KeyPair> {
  return loadOrCreate(file, SECRET, () => privateKeyPem(generateKeyPair())).then((text) =>
    parseFile(file, "Ed25519 private key", () => keyPairFromPem(pemBlocks(file, text, ["PRIVATE KEY"])[0]!)),
  );
}

async function loadFarmKey(file: string): Promise<Buffer> {
  const text = (await loadOrCreate(file, SECRET, () => `${randomBytes(32).toString("hex")}\n`)).trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new PkiFileError(file, "expected 64 hex characters (32 bytes)");
  return Buffer.from(text, "hex");
}

function parseCert(file: string, pem: string): X509Certificate {
  return parseFile(file, "certificate", () => new X509Certificate(pem));
}

/** The farm CA from `dir`, created (key first, then the certificate from it) when missing. */
async function generatedCa(dir: string): Promise<{ caPem: string; caKey: KeyObject }> {
  const keyFile = join(dir, "ca.key");
  const certFile = join(dir, "ca.crt");
  if (readIfExists(keyFile) === null && readIfExists(certFile) !== null) {
    throw new PkiFileError(
      keyFile,
      "missing while ca.crt exists: restore it, or move both aside to make a new CA (every agent must then rejoin)",
    );
  }
  const keyText = await loadOrCreate(keyFile, SECRET, generateEcKeyPem);
  const caKey = parseFile(keyFile, "ECDSA P-256 private key", () => parseEcKey(keyText));
  const certText = await loadOrCreate(certFile, PUBLIC, () => createCaCert(caKey));
  const caPem = pemBlocks(certFile, certText, ["CERTIFICATE"])[0]!;
  const ca = parseCert(certFile, caPem);
  if (!ca.checkPrivateKey(caKey)) throw new PkiFileError(certFile, "does not match ca.key");
  if (!ca.ca) throw new PkiFileError(certFile, "is not a CA certificate");
  if (new Date(ca.validTo).getTime() < Date.now()) {
    throw new PkiFileError(
      certFile,
      `expired on ${ca.validTo}: move ca.* and server.* aside to make a new CA (every agent must then rejoin)`,
    );
  }
  return { caPem, caKey };
}

/**
 * The serving certificate from `dir` (created when missing), reissued from the
 * same CA when it lacks a wanted SAN, no longer matches the CA or key, or
 * nears its end. A reissue keeps the SANs the old certificate had, so
 * replicas started with different names converge on one certificate.
 */
async function generatedServer(
  dir: string,
  caPem: string,
  caKey: KeyObject,
  sans: string[],
): Promise<{ leafPem: string; keyPem: string }> {
  const keyFile = join(dir, "server.key");
  const certFile = join(dir, "server.crt");
  const keyPem = await loadOrCreate(keyFile, SECRET, generateEcKeyPem);
  const serverKey = parseFile(keyFile, "ECDSA P-256 private key", () => parseEcKey(keyPem));
  const wanted = wantedSans(sans);
  const certText = await loadOrCreate(certFile, PUBLIC, () => issueServerCert(caPem, caKey, serverKey, wanted));
  const leafPem = pemBlocks(certFile, certText, ["CERTIFICATE"])[0]!;
  const why = parseFile(certFile, "certificate", () =>
    reissueReason(leafPem, createPublicKey(caKey), serverKey, wanted),
  );
  if (why === null) return { leafPem, keyPem };
  const keep = why === "not signed by the farm CA" ? [] : certSans(leafPem);
  const fresh = await issueServerCert(caPem, caKey, serverKey, mergeSans(wanted, keep));
  replaceFile(certFile, fresh, PUBLIC);
  return { leafPem: fresh, keyPem };
}

/** The operator's TLS files, checked against each other. */
function operatorTls(certFile: string, keyFile: string, caFile: string) {
  const chain = pemBlocks(certFile, readTextFile(certFile), ["CERTIFICATE"]);
  const certs = chain.map((pem) => parseCert(certFile, pem));
  const keyPem = pemBlocks(keyFile, readTextFile(keyFile), ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"])[0]!;
  const key = parseFile(keyFile, "private key", () => createPrivateKey(keyPem));
  if (!certs[0]!.checkPrivateKey(key)) throw new PkiFileError(keyFile, `does not match the certificate in ${certFile}`);
  const caPem = pemBlocks(caFile, readTextFile(caFile), ["CERTIFICATE"])[0]!;
  const ca = parseCert(caFile, caPem);
  if (!certs.some((c) => c.checkIssued(ca) && c.verify(ca.publicKey))) {
    throw new PkiFileError(
      certFile,
      `is not signed by the CA in ${caFile} (neither the certificate nor an intermediate in the file)`,
    );
  }
  const caFingerprint = certFingerprint(caPem);
  const hasCa = chain.some((pem) => certFingerprint(pem) === caFingerprint);
  return {
    caPem,
    caFingerprint,
    serverCertChainPem: (hasCa ? chain : [...chain, caPem]).join(""),
    serverKeyPem: keyPem,
  };
}

/**
 * Load the server's key material from `opts.dir`, creating what is missing.
 * Async (certificate signing uses WebCrypto); call once at start, before
 * listening. Files are created with no-clobber semantics (temp file + hard
 * link) and re-read after a lost race, so replicas may start at once on a
 * shared `dir` and get the same CA, keys and farm key; the serving certificate
 * may be reissued (atomic replace) by a replica that needs another SAN.
 *
 * With `certFile`, `keyFile` and `caFile`, TLS material comes from those files
 * (checked: the key matches the certificate, which the CA signed) and only
 * signing.key and farm.key live in `dir`.
 *
 * Throws InvalidError when only some of the three files are given, and
 * PkiFileError (code `invalid`, naming the file) when a file is unreadable,
 * not PEM, or does not fit the others. Nothing is ever deleted.
 */
export async function ensurePki(opts: PkiOptions): Promise<Pki> {
  const given = [opts.certFile, opts.keyFile, opts.caFile].filter((f) => f !== undefined && f !== "");
  if (given.length !== 0 && given.length !== 3) {
    throw new InvalidError("TLS files: give the certificate, its key and the CA certificate together, or none of them");
  }
  if (mkdirSync(opts.dir, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(opts.dir, 0o700);
  const files: Record<string, string> = {
    signingKey: join(opts.dir, "signing.key"),
    farmKey: join(opts.dir, "farm.key"),
  };
  const signingKey = await loadSigningKey(files.signingKey!);
  const farmKey = await loadFarmKey(files.farmKey!);

  if (given.length === 3) {
    const tls = operatorTls(opts.certFile!, opts.keyFile!, opts.caFile!);
    Object.assign(files, { ca: opts.caFile!, serverCert: opts.certFile!, serverKey: opts.keyFile! });
    return { ...tls, signingKey, farmKey, files };
  }

  Object.assign(files, {
    ca: join(opts.dir, "ca.crt"),
    caKey: join(opts.dir, "ca.key"),
    serverCert: join(opts.dir, "server.crt"),
    serverKey: join(opts.dir, "server.key"),
  });
  const { caPem, caKey } = await generatedCa(opts.dir);
  const { leafPem, keyPem } = await generatedServer(opts.dir, caPem, caKey, opts.sans);
  return {
    caPem,
    caFingerprint: certFingerprint(caPem),
    serverCertChainPem: leafPem + caPem,
    serverKeyPem: keyPem,
    signingKey,
    farmKey,
    files,
  };
}
