// The farm's certificates: an ECDSA P-256 CA and the serving certificate it
// signs, made with @peculiar/x509 (WebCrypto). Keys are handled as PKCS#8 PEM
// text; node:crypto does the parsing and checks, WebCrypto only the signing.
import "reflect-metadata"; // @peculiar/x509 (through tsyringe) needs a Reflect polyfill, loaded first
import * as x509 from "@peculiar/x509";
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  webcrypto,
  X509Certificate,
  type KeyObject,
} from "node:crypto";
import { isIP } from "node:net";
import { hostname } from "node:os";

// Node's WebCrypto; the library types it with the DOM's Crypto, which this project's lib does not include.
type LibCrypto = Parameters<typeof x509.cryptoProvider.set>[0];
const crypto = webcrypto as unknown as LibCrypto;
x509.cryptoProvider.set(crypto);

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export const CA_SUBJECT = "CN=Dockyard farm CA";
export const SERVER_SUBJECT = "CN=Dockyard server";
export const CA_VALIDITY_YEARS = 10;
export const SERVER_VALIDITY_YEARS = 2;
/** A serving certificate closer than this to its end is reissued at start. */
export const SERVER_RENEW_BEFORE_DAYS = 30;
/** Backdating of notBefore, for hosts whose clocks run a little behind the server's. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;

function addYears(d: Date, years: number): Date {
  const out = new Date(d);
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

/** A new ECDSA P-256 private key, PKCS#8 PEM. */
export function generateEcKeyPem(): string {
  return generateKeyPairSync("ec", { namedCurve: "P-256" })
    .privateKey.export({ format: "pem", type: "pkcs8" })
    .toString();
}

/** The private key of `pem`; throws (plain Error, the caller names the file) unless it is an ECDSA P-256 key. */
export function parseEcKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error(
      `expected an ECDSA P-256 private key, got ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ""}`.trim(),
    );
  }
  return key;
}

function spki(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: "der", type: "spki" });
}

function signingKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey("pkcs8", key.export({ format: "der", type: "pkcs8" }), EC, false, ["sign"]);
}

/** A positive 128-bit serial number (hex), as RFC 5280 asks: unique, at most 20 bytes. */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b.toString("hex");
}

/** A self-signed CA certificate (PEM) for the P-256 key `caKey`: 10 years, CA:TRUE, keyCertSign and cRLSign. */
export async function createCaCert(caKey: KeyObject, now = new Date()): Promise<string> {
  const pub = spki(caKey);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: CA_SUBJECT,
      issuer: CA_SUBJECT,
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: addYears(now, CA_VALIDITY_YEARS),
      publicKey: pub,
      signingKey: await signingKey(caKey),
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(pub, false, crypto),
      ],
    },
    crypto,
  );
  return cert.toString("pem") + "\n";
}

/** A subject alternative name: a DNS name (lowercase) or an IP address (canonical text). */
export interface San {
  type: "dns" | "ip";
  value: string;
}

/**
 * `value` as a SAN: brackets dropped from IPv6, IPs in canonical form (so "::1" and "0:0::1" compare equal), names
 * lowercased.
 */
export function toSan(value: string): San {
  const v = value.trim().replace(/^\[(.*)\]$/, "$1");
  const family = isIP(v);
  if (family === 0) return { type: "dns", value: v.toLowerCase().replace(/\.$/, "") };
  try {
    const host = new URL(`http://${family === 6 ? `[${v}]` : v}/`).hostname;
    return { type: "ip", value: host.replace(/^\[(.*)\]$/, "$1") };
  } catch {
    return { type: "ip", value: v.toLowerCase() }; // e.g. a zone id, which URL refuses: compared as written
  }
}

const sanKey = (s: San) => `${s.type}:${s.value}`;

/**
 * The SANs a serving certificate must have: localhost, 127.0.0.1, ::1, this
 * host's name and `extra` (listen hosts, public names), deduplicated. Empty
 * entries and unspecified addresses (0.0.0.0, ::), which no client dials, are
 * left out.
 */
export function wantedSans(extra: readonly string[]): San[] {
  const out = new Map<string, San>();
  for (const raw of ["localhost", "127.0.0.1", "::1", hostname(), ...extra]) {
    if (!raw.trim()) continue;
    const san = toSan(raw);
    if (san.type === "ip" && (san.value === "0.0.0.0" || san.value === "::")) continue;
    out.set(sanKey(san), san);
  }
  return [...out.values()];
}

/** The DNS and IP SANs of a certificate, canonical as toSan makes them. */
export function certSans(certPem: string): San[] {
  const ext = new x509.X509Certificate(certPem).getExtension(x509.SubjectAlternativeNameExtension);
  return (ext?.names.items ?? []).filter((n) => n.type === "dns" || n.type === "ip").map((n) => toSan(n.value));
}

/** The SANs of `wanted` that `have` lacks. */
export function missingSans(have: readonly San[], wanted: readonly San[]): San[] {
  const keys = new Set(have.map(sanKey));
  return wanted.filter((s) => !keys.has(sanKey(s)));
}

/** The union of SAN lists, first occurrence kept. */
export function mergeSans(...lists: (readonly San[])[]): San[] {
  const out = new Map<string, San>();
  for (const list of lists) for (const s of list) if (!out.has(sanKey(s))) out.set(sanKey(s), s);
  return [...out.values()];
}

/**
 * A serving certificate (PEM, the leaf only) for the P-256 key `serverKey`,
 * signed by the CA (`caCertPem`, `caKey`): 2 years, serverAuth, with `sans`.
 */
export async function issueServerCert(
  caCertPem: string,
  caKey: KeyObject,
  serverKey: KeyObject,
  sans: readonly San[],
  now = new Date(),
): Promise<string> {
  const ca = new x509.X509Certificate(caCertPem);
  const pub = spki(serverKey);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: SERVER_SUBJECT, // clients check the SANs, never the CN
      issuer: ca.subjectName,
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: addYears(now, SERVER_VALIDITY_YEARS),
      publicKey: pub,
      signingKey: await signingKey(caKey),
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(
          sans.map((s) => ({ type: s.type, value: s.value })),
          false,
        ),
        await x509.SubjectKeyIdentifierExtension.create(pub, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(spki(caKey), false, crypto),
      ],
    },
    crypto,
  );
  return cert.toString("pem") + "\n";
}

/**
 * Why the serving certificate `certPem` must be reissued, or null when it is
 * fine: not signed by the CA, not for `serverKey`, expiring within
 * SERVER_RENEW_BEFORE_DAYS, or lacking one of `wanted`.
 */
export function reissueReason(
  certPem: string,
  caPublic: KeyObject,
  serverKey: KeyObject,
  wanted: readonly San[],
  now = new Date(),
): string | null {
  const cert = new X509Certificate(certPem);
  if (!cert.verify(caPublic)) return "not signed by the farm CA";
  if (!cert.checkPrivateKey(serverKey)) return "does not match server.key";
  if (new Date(cert.validTo).getTime() - now.getTime() < SERVER_RENEW_BEFORE_DAYS * DAY_MS)
    return `expires ${cert.validTo}`;
  const missing = missingSans(certSans(certPem), wanted);
  if (missing.length > 0) return `lacks SAN ${missing.map((s) => s.value).join(", ")}`;
  return null;
}
