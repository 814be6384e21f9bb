// Authenticates agent calls: `authorization: Dockyard-Agent <credential>`, a
// credential the agent signs with its own private key (proto/src/identity.ts)
// naming its id, its session and an expiry. It only travels over TLS; a stolen
// registration answer or agent id is useless without the private key.
import type { Metadata } from "@grpc/grpc-js";
import type { KeyObject } from "node:crypto";
import { eq } from "drizzle-orm";
import { AGENT_AUTH_SCHEME, checkCredential, parseCredential, publicKeyFromRaw } from "@dockyard/proto";
import type { Db } from "../../store/db";
import { agents } from "../../store/schema";
import type { AgentRow } from "../../store/agents";
import { UnauthenticatedError } from "../../errors";

/**
 * Sessions are checked against Postgres at most once per CACHE_MS per
 * credential: every call and every attempt opened on a stream re-checks. A
 * revoked or replaced session therefore works for at most CACHE_MS more.
 */
const CACHE_MS = 1000;
/** Longest validity an agent may give its credential. */
const MAX_CREDENTIAL_MS = 10 * 60_000;

export class AgentAuth {
  private readonly cache = new Map<string, { agent: AgentRow; until: number }>();
  private readonly keys = new Map<string, KeyObject>();

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  /** The agent a call's metadata authenticates; throws UnauthenticatedError with the reason. */
  async authenticate(md: Metadata): Promise<AgentRow> {
    const value = md.get("authorization")[0];
    const prefix = `${AGENT_AUTH_SCHEME} `;
    if (typeof value !== "string" || !value.startsWith(prefix)) {
      throw new UnauthenticatedError(
        `missing 'authorization: ${AGENT_AUTH_SCHEME} <credential>' metadata; register first`,
      );
    }
    const text = value.slice(prefix.length).trim();
    const now = this.now();
    const hit = this.cache.get(text);
    if (hit && hit.until > now) return hit.agent;
    const cred = parseCredential(text);
    if (!cred) throw new UnauthenticatedError("malformed agent credential");
    if (cred.expiresAtMs <= now) throw new UnauthenticatedError("agent credential expired");
    if (cred.expiresAtMs > now + MAX_CREDENTIAL_MS)
      throw new UnauthenticatedError("agent credential is valid for too long");
    const [agent] = await this.db.select().from(agents).where(eq(agents.id, cred.agentId));
    if (!agent || agent.publicKey === "") throw new UnauthenticatedError(`unknown agent ${cred.agentId.slice(0, 64)}`);
    // The signature first: only the key's holder learns anything about the agent's state.
    if (!checkCredential(cred, this.key(agent.publicKey)))
      throw new UnauthenticatedError("agent credential signature does not match the agent's key");
    if (agent.state === "revoked") throw new UnauthenticatedError(`agent ${agent.id} was revoked`);
    if (agent.sessionId === "" || agent.sessionId !== cred.sessionId) {
      throw new UnauthenticatedError("agent session is unknown or replaced: register again");
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(text, { agent, until: Math.min(now + CACHE_MS, cred.expiresAtMs) });
    return agent;
  }

  private key(hex: string): KeyObject {
    let key = this.keys.get(hex);
    if (!key) {
      key = publicKeyFromRaw(Buffer.from(hex, "hex"));
      if (this.keys.size > 10_000) this.keys.clear();
      this.keys.set(hex, key);
    }
    return key;
  }
}
