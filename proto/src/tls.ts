// TLS for the agent API: grpc-js credentials for both sides, and the CA pinning
// an agent (or the CLI) does on first contact. A join token carries the farm
// CA's SHA-256 fingerprint; the joiner connects once without verifying, keeps
// the certificate of the presented chain that has that fingerprint, and from
// then on trusts only it (as `kubeadm join --discovery-token-ca-cert-hash` does).
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { connect, type DetailedPeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";

/** Lowercase hex with no separators, from any of "AB:CD:…", "abcd…" or "sha256:abcd…". */
function normalizeFingerprint(fp: string): string {
  return fp
    .trim()
    .replace(/^sha256:/i, "")
    .replace(/:/g, "")
    .toLowerCase();
}

/**
 * Lowercase hex SHA-256 (64 characters) of the DER of the first certificate in
 * `pem` (further certificates, as in a chain, are ignored). Throws when `pem`
 * holds no parsable certificate.
 */
export function certFingerprint(pem: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new Error("not a PEM certificate", { cause: err });
  }
  return normalizeFingerprint(cert.fingerprint256);
}

/** PEM text of a DER certificate. */
function derToPem(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

/** "host:port" or "[v6]:port" into its parts; throws on anything else. */
function splitAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`not a host:port address: ${JSON.stringify(address)}`);
  return { host: (m[1] ?? m[2])!, port };
}

/** The certificates the peer sent, leaf first, following issuerCertificate until it points to itself. */
function peerChain(leaf: DetailedPeerCertificate): DetailedPeerCertificate[] {
  const chain: DetailedPeerCertificate[] = [];
  const seen = new Set<string>();
  let cert: DetailedPeerCertificate | undefined = leaf;
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    chain.push(cert);
    seen.add(cert.fingerprint256);
    cert = cert.issuerCertificate === cert ? undefined : cert.issuerCertificate;
  }
  return chain;
}

/**
 * Connect to `address` ("host:port", "[::1]:port") with TLS WITHOUT verifying
 * the server, and return the PEM of the certificate in its chain whose SHA-256
 * fingerprint is `fingerprint` (the pinned CA; 64 hex, any case, colons
 * allowed). Nothing is sent beyond the handshake, and the connection is closed
 * before this resolves.
 *
 * Throws an Error naming the address when the chain holds no such certificate
 * ("the server at X presented no certificate with fingerprint Y; got: …"), when
 * the connection or handshake fails, or when it takes longer than `timeoutMs`.
 * The caller decides whether to retry (the server may not be up yet).
 */
export function fetchPinnedCa(address: string, fingerprint: string, timeoutMs = 5000): Promise<string> {
  const want = normalizeFingerprint(fingerprint);
  if (!/^[0-9a-f]{64}$/.test(want)) {
    return Promise.reject(
      new Error(`a CA fingerprint is 64 hex characters (SHA-256), got ${JSON.stringify(fingerprint)}`),
    );
  }
  let host: string;
  let port: number;
  try {
    ({ host, port } = splitAddress(address));
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise<string>((resolve, reject) => {
    const socket = connect({
      host,
      port,
      // SNI cannot carry an IP address; a name is sent so a proxy can route on it.
      ...(isIP(host) ? {} : { servername: host }),
      rejectUnauthorized: false, // on purpose: the pin below is the check
      ALPNProtocols: ["h2"],
    });
    const done = (err: Error | null, pem?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(pem!);
    };
    const timer = setTimeout(
      () => done(new Error(`fetching the CA from the server at ${address} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once("error", (err) =>
      done(new Error(`could not fetch the CA from the server at ${address}: ${err.message}`, { cause: err })),
    );
    socket.once("secureConnect", () => {
      const chain = peerChain(socket.getPeerCertificate(true));
      const match = chain.find((c) => normalizeFingerprint(c.fingerprint256) === want);
      if (match) return done(null, derToPem(match.raw));
      const got = chain.map((c) => `${normalizeFingerprint(c.fingerprint256)} (${c.subject?.CN ?? "no CN"})`);
      done(
        new Error(
          `the server at ${address} presented no certificate with fingerprint ${want}; got: ${got.length ? got.join(", ") : "no certificate"}`,
        ),
      );
    });
  });
}

/**
 * grpc-js channel credentials that trust only `caPem` (no system roots) and
 * check the server's name against the address dialed. Throws when `caPem` is
 * not a PEM certificate.
 */
export function clientTlsCredentials(caPem: string): grpc.ChannelCredentials {
  certFingerprint(caPem); // a clear error now rather than a handshake failure later
  return grpc.credentials.createSsl(Buffer.from(caPem));
}

/**
 * grpc-js server credentials for `certChainPem` (the serving certificate, then
 * its issuers) and its private key. Client certificates are not requested:
 * agents authenticate with their signed credential in the call metadata.
 */
export function serverTlsCredentials(certChainPem: string, keyPem: string): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(
    null,
    [{ cert_chain: Buffer.from(certChainPem), private_key: Buffer.from(keyPem) }],
    false,
  );
}

/**
 * grpc-js sets the TLS server name to the target host, an IP for `127.0.0.1:7400`,
 * and Node then warns (DEP0123) once per process, on every CLI command. The
 * certificate is still checked against the IP (our certificates carry IP SANs), so
 * the warning says nothing to a user: drop that one, keep every other warning.
 */
export function quietIpServerNameWarning(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === "object" && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    if (code === "DEP0123") return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
