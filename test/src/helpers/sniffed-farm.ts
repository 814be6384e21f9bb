// The farm of the NATS-attacker tests (attacker.test.ts, attacker-forge.test.ts): two shell
// agents and a secret, watched from before the agents exist by a NATS client with no
// credentials that reads `>`; and a whole run of a pipeline that uses the secret, for the
// attacker to read (and replay).
import { randomBytes } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Run } from "@dockyard/proto";
import type { Agent } from "@dockyard/agent";
import { startFarm, NATS_URL, type Farm } from "./farm";
import { submit, waitForRun } from "./runs";
import { waitFor } from "./wait";

export interface Captured {
  subject: string;
  data: Uint8Array;
}

export interface SniffedFarm {
  farm: Farm;
  /** The attacker's NATS client. */
  sniffer: NatsConnection;
  /** Every message on the farm's subjects the sniffer saw, in order (it keeps growing). */
  captured: Captured[];
  /** victim-a and victim-b, shell executor, capacity 4, labeled victim=a and victim=b. */
  agents: Agent[];
  /** The value of the secret `deploy-token`. */
  secretValue: string;
  /** A plain env value of the secret pipeline (not secret, but not expected on NATS either). */
  plainEnv: string;
}

/** Starts a farm, the sniffer on its NATS, its two agents, and sets the secret `deploy-token`. */
export async function startSniffedFarm(): Promise<SniffedFarm> {
  const farm = await startFarm();
  const captured: Captured[] = [];
  const secretValue = `dk-${randomBytes(12).toString("hex")}`;
  const plainEnv = `plain-${randomBytes(8).toString("hex")}`;
  let sniffer: NatsConnection | undefined;
  try {
    // Everything on the server's NATS from before the agents exist.
    sniffer = await connect({ servers: NATS_URL, name: "attacker" });
    sniffer.subscribe(">", {
      callback: (_e, m) => {
        if (m.subject.startsWith(`${farm.prefix}.`)) captured.push({ subject: m.subject, data: m.data });
      },
    });
    await sniffer.flush();
    const agents = [
      await farm.startAgent({ name: "victim-a", executor: "shell", capacity: 4, labels: { victim: "a" } }),
      await farm.startAgent({ name: "victim-b", executor: "shell", capacity: 4, labels: { victim: "b" } }),
    ];
    await farm.client.setSecret({ name: "deploy-token", value: Buffer.from(secretValue) });
    return { farm, sniffer, captured, agents, secretValue, plainEnv };
  } catch (err) {
    await sniffer?.drain().catch(() => undefined);
    await farm.stop();
    throw err;
  }
}

/**
 * Runs the pipeline with the secret (a shell stage that prints it, plainly and in base64, and
 * checks the plain env value) to its end, then waits until the sniffer saw the run-ended
 * broadcast, so the capture holds registration, heartbeats, assignment, logs and the run's end.
 */
export async function runWithSecret(
  s: Pick<SniffedFarm, "farm" | "sniffer" | "captured" | "plainEnv">,
): Promise<{ runId: string; run: Run }> {
  const { farm, sniffer, captured, plainEnv } = s;
  const runId = await submit(
    farm.client,
    `
name: with-secret
env: { PLAIN_SETTING: ${plainEnv} }
stages:
  deploy:
    executor: shell
    env: { DEPLOY_TOKEN: { secret: deploy-token } }
    commands:
      - echo "token=$DEPLOY_TOKEN"
      - printf %s "$DEPLOY_TOKEN" | base64
      - test "$PLAIN_SETTING" = "${plainEnv}"
`,
  );
  const run = await waitForRun(farm.client, runId);
  // Let heartbeats and the run-ended broadcast happen while we listen.
  await waitFor(() => captured.some((m) => m.subject.endsWith(".agents.run-ended")), {
    message: "the run-ended broadcast",
  });
  await sniffer.flush();
  return { runId, run };
}
