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
