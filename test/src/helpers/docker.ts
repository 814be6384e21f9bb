import Docker from "dockerode";
import { DOCKER_HOST } from "./farm";

/** The test Docker engine; fails loudly when it is not running. */
export async function testDocker(): Promise<Docker> {
  const docker = new Docker({ socketPath: DOCKER_HOST.replace("unix://", "") });
  await docker.ping().catch((err: Error) => {
    throw new Error(`no Docker engine at ${DOCKER_HOST}; 'npm test' starts one (${err.message})`);
  });
  return docker;
}

/** Containers of one attempt (any state). */
export async function attemptContainers(docker: Docker, attemptId: string) {
  return docker.listContainers({ all: true, filters: { label: [`dockyard.attempt=${attemptId}`] } });
}

/** Removes a run's stage containers and workspace volume from an engine (what killed agents, or a failed test, left). */
export async function removeRunLeftovers(docker: Docker, runId: string): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { label: [`dockyard.run=${runId}`] } })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  }
  await docker
    .getVolume(`dockyard-ws-${runId}`)
    .remove()
    .catch(() => undefined);
}
