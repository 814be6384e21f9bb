// An agent driven by hand in a test: its own key, registered over TLS with the
// farm's join token (or another), labelled `hand=<name>`; its client signs every
// call for the session it got. The caller closes the client.
import { clientTlsCredentials, generateKeyPair, type KeyPair, type RegisterAccepted } from "@dockyard/proto";
import { createAgentClient, CredentialSource, register, type AgentClient } from "@dockyard/agent";
import type { Farm } from "./farm";

export async function handAgent(
  farm: Farm,
  name: string,
  opts: { joinToken?: string; pair?: KeyPair } = {},
): Promise<{ client: AgentClient; accepted: RegisterAccepted; pair: KeyPair }> {
  const pair = opts.pair ?? generateKeyPair();
  let session = { agentId: "", sessionId: "" };
  const client = createAgentClient(
    farm.server.grpcAddress,
    clientTlsCredentials(farm.server.pki.caPem),
    () => session,
    new CredentialSource(pair),
  );
  try {
    const accepted = await register(client, pair, {
      joinToken: opts.joinToken ?? farm.joinToken,
      agentId: "",
      name,
      labels: { hand: name },
      capacity: 1,
      capabilities: ["shell"],
    });
    session = { agentId: accepted.agentId, sessionId: accepted.sessionId };
    return { client, accepted, pair };
  } catch (err) {
    client.close();
    throw err;
  }
}
