// The second Docker engine and the private registry, both started by scripts/setup.sh
// (`npm test`). Helpers fail loudly, never skip: a missing service is a setup problem.
import { readFile } from "node:fs/promises";
import Docker from "dockerode";

/** Where `scripts/docker/start-dockerd.sh b` puts the second engine. */
export const DOCKER_HOST_B = process.env.DOCKYARD_DOCKER_HOST_B ?? "unix:///tmp/dockyard-docker-b/docker.sock";
/** Where scripts/registry/start-registry.sh keeps its password, config and data. */
export const REGISTRY_DIR = "/tmp/dockyard-registry";
export const REGISTRY_ADDRESS = "127.0.0.1:5000";
const SETUP_HINT = "'npm test' (scripts/setup.sh) starts it";

/** The second test Docker engine (push on one engine, pull on the other); fails loudly when it is not running. */
export async function testDockerB(): Promise<Docker> {
  const docker = new Docker({ socketPath: DOCKER_HOST_B.replace("unix://", "") });
  await docker.ping().catch((err: Error) => {
    throw new Error(`no second Docker engine at ${DOCKER_HOST_B}; ${SETUP_HINT} (${err.message})`);
  });
  return docker;
}

export interface TestRegistry {
  address: string;
  username: string;
  password: string;
}

/**
 * The private registry's address and credentials, after checking it answers: GET /v2/ must
 * say 401 without credentials (auth is on) and 200 with them.
 */
export async function testRegistry(): Promise<TestRegistry> {
  const password = (
    await readFile(`${REGISTRY_DIR}/password`, "utf8").catch((err: Error) => {
      throw new Error(`no registry password in ${REGISTRY_DIR}/password; ${SETUP_HINT} (${err.message})`);
    })
  ).trim();
  const reg: TestRegistry = { address: REGISTRY_ADDRESS, username: "dockyard", password };
  const basic = `Basic ${Buffer.from(`${reg.username}:${password}`).toString("base64")}`;
  const status = (headers?: Record<string, string>) =>
    fetch(`http://${reg.address}/v2/`, { headers, signal: AbortSignal.timeout(2000) }).then((r) => r.status);
  const anonymous = await status().catch((err: Error) => {
    throw new Error(`no registry answers at http://${reg.address}/v2/; ${SETUP_HINT} (${err.message})`);
  });
  const authed = await status({ authorization: basic });
  if (anonymous !== 401 || authed !== 200) {
    throw new Error(
      `registry at ${reg.address} answered ${anonymous} anonymously and ${authed} with the dockyard login (want 401 and 200); ${SETUP_HINT}`,
    );
  }
  return reg;
}
