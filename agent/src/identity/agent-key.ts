// The agent's identity: an Ed25519 key pair made at first start and kept in its
// state directory (mode 0600). The server knows only the public half; every
// gRPC call is signed with the private half, so what crosses the network
// (registration answers, agent ids) is useless to anyone without the file.
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { agentCredential, generateKeyPair, keyPairFromPem, privateKeyPem, type KeyPair } from "@dockyard/proto";

const FILE = "agent.key";

/** Load the key pair from `stateDir`, making it on first start. */
export function loadAgentKey(stateDir: string): KeyPair {
  const file = path.join(stateDir, FILE);
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    try {
      return keyPairFromPem(readFileSync(file, "utf8"));
    } catch (err) {
      throw new Error(`cannot read the agent key ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  const pair = generateKeyPair();
  writeFileSync(file, privateKeyPem(pair), { mode: 0o600, flag: "wx" });
  return pair;
}

/** Credentials are valid this long; a new one is signed when less than half is left. */
const CREDENTIAL_MS = 5 * 60_000;

/** Signs (and caches) the credential of the current session. */
export class CredentialSource {
  private cached: { text: string; until: number; key: string } | null = null;

  constructor(private readonly pair: KeyPair) {}

  credential(agentId: string, sessionId: string, nowMs = Date.now()): string {
    const key = `${agentId}.${sessionId}`;
    if (this.cached && this.cached.key === key && this.cached.until - nowMs > CREDENTIAL_MS / 2)
      return this.cached.text;
    const until = nowMs + CREDENTIAL_MS;
    const text = agentCredential(this.pair, { agentId, sessionId, expiresAtMs: until });
    this.cached = { text, until, key };
    return text;
  }
}
