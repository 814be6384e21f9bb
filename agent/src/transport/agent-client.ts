// The agent's gRPC client: the session credential rides on every call.
import * as grpc from "@grpc/grpc-js";
import { AgentService, createClient, type TypedClient } from "@dockyard/proto";

export type AgentClient = TypedClient<(typeof AgentService)["method"]>;

export interface Session {
  agentId: string;
  sessionToken: string;
}

/** `session()` is read per call, so a re-registration takes effect at once. */
export function createAgentClient(address: string, session: () => Session): AgentClient {
  return createClient(AgentService, address, {
    metadata: () => {
      const md = new grpc.Metadata();
      const s = session();
      md.set("authorization", `Bearer ${s.sessionToken}`);
      md.set("x-dockyard-agent-id", s.agentId);
      return md;
    },
  });
}
