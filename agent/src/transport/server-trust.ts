// How the agent trusts the server: the CA certificate from DOCKYARD_CA_FILE, or
// pinned by the fingerprint its join token carries (fetched once from the
// server's TLS handshake, checked against the fingerprint, kept in the state
// directory and checked again at every start), like `kubeadm join` does with
// its CA hash. Plaintext only with DOCKYARD_INSECURE.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { certFingerprint, clientTlsCredentials, fetchPinnedCa } from "@dockyard/proto";
import type { Logger } from "pino";
import type { AgentConfig } from "../config";

export async function serverCredentials(config: AgentConfig, log: Logger): Promise<grpc.ChannelCredentials> {
  if (config.insecure) {
    log.warn({ server: config.serverUrl }, "INSECURE: plaintext gRPC to the server; for local experiments only");
    return grpc.credentials.createInsecure();
  }
  return clientTlsCredentials(await caPem(config, log));
}

async function caPem(config: AgentConfig, log: Logger): Promise<string> {
  const want = config.caFingerprint;
  if (config.caFile) {
    const pem = readFileSync(config.caFile, "utf8");
    if (want && certFingerprint(pem) !== want) {
      throw new Error(`the CA in ${config.caFile} has fingerprint ${certFingerprint(pem)}, not the pinned ${want}`);
    }
    return pem;
  }
  const pinned = path.join(config.stateDir, "server-ca.crt");
  if (existsSync(pinned)) {
    const pem = readFileSync(pinned, "utf8");
    if (certFingerprint(pem) === want) return pem;
    log.warn({ file: pinned }, "pinned CA does not match the join token's fingerprint; fetching it again");
  }
  // Any replica will do: they share one CA.
  let lastError: unknown;
  for (const server of config.servers) {
    try {
      const pem = await fetchPinnedCa(server, want!, 5000);
      writeFileSync(pinned, pem);
      log.info({ server, caFingerprint: want }, "server CA pinned");
      return pem;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
