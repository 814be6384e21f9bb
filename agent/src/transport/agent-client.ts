// The agent's gRPC client: TLS to the server, and on every call a credential
// signed with the agent's key for the current session (none before registering).
import * as grpc from "@grpc/grpc-js";
import { AGENT_AUTH_SCHEME, AgentService, createFailoverClient, type FailoverClient } from "@dockyard/proto";
import type { CredentialSource } from "../identity/agent-key";

export type AgentClient = FailoverClient<(typeof AgentService)["method"]>;

export interface Session {
  agentId: string;
  /** Empty until the agent registered. */
  sessionId: string;
}

/**
 * `session()` is read per call, so a re-registration takes effect at once. With several
 * replicas, calls go to one of them and move to the next when it is unreachable.
 */
export function createAgentClient(
  addresses: string | string[],
  credentials: grpc.ChannelCredentials,
  session: () => Session,
  signer: CredentialSource,
): AgentClient {
  return createFailoverClient(AgentService, typeof addresses === "string" ? [addresses] : addresses, {
    credentials,
    metadata: () => {
      const md = new grpc.Metadata();
      const s = session();
      if (s.sessionId) md.set("authorization", `${AGENT_AUTH_SCHEME} ${signer.credential(s.agentId, s.sessionId)}`);
      return md;
    },
  });
}
