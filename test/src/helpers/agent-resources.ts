// What a farm's agents leave on their engines when a test kills them before they clean up.
import Docker from "dockerode";
import { waitFor } from "./wait";

/**
 * Removes every container, volume and network on the engines at `hosts` that carries one of
 * `agentIds` as its `dockyard.agent` label: what a farm's agents leave when a test kills them
 * (kill -9, abort) before they clean up. Farms call it when they stop, pass or fail.
 */
export async function removeAgentResources(hosts: Iterable<string>, agentIds: string[]): Promise<void> {
  if (agentIds.length === 0) return;
  const ours = (labels: Record<string, string> | null | undefined) =>
    agentIds.includes(labels?.["dockyard.agent"] ?? "");
  const filters = { label: ["dockyard.agent"] };
  for (const host of new Set(hosts)) {
    const docker = new Docker({ socketPath: host.replace("unix://", "") });
    const containers = await docker.listContainers({ all: true, filters });
    await Promise.all(containers.filter((c) => ours(c.Labels)).map((c) => removeContainer(docker, c.Id)));
    const { Volumes } = await docker.listVolumes({ filters });
    await Promise.all(
      (Volumes ?? []).filter((v) => ours(v.Labels)).map((v) => docker.getVolume(v.Name).remove().catch(ignoreGone)),
    );
    const networks = await docker.listNetworks({ filters });
    await Promise.all(
      networks.filter((n) => ours(n.Labels)).map((n) => docker.getNetwork(n.Id).remove().catch(ignoreGone)),
    );
  }
}

/**
 * Removes a container, or waits for the removal already under way (the agent's own cleanup,
 * racing ours: 409 "removal ... is already in progress"), so its volumes are free afterwards.
 */
async function removeContainer(docker: Docker, id: string): Promise<void> {
  const container = docker.getContainer(id);
  try {
    await container.remove({ force: true, v: true });
  } catch (err) {
    const { statusCode } = err as { statusCode?: number };
    if (statusCode === 404) return;
    if (statusCode !== 409) throw err;
    const gone = () =>
      container.inspect().then(
        () => false,
        (e: { statusCode?: number }) => e.statusCode === 404,
      );
    await waitFor(gone, { timeoutMs: 30_000, message: `container ${id.slice(0, 12)} removed by its agent` });
  }
}

/** 404: someone (the agent's own cleanup) removed it first. */
function ignoreGone(err: { statusCode?: number }): void {
  if (err.statusCode !== 404) throw err;
}
