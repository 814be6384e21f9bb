import Dockerode from 'dockerode';

/** Where scripts/docker/start-dockerd.sh puts the dev/test daemon. */
export const DEFAULT_DOCKER_HOST = 'unix:///tmp/dockyard-docker/docker.sock';

/** The tiny local image scripts/docker/build-base-image.ts builds (busybox, PATH=/bin). */
export const BASE_IMAGE = 'dockyard/busybox:1';

/**
 * Builds a Dockerode client from DOCKER_HOST: `unix:///path/to.sock` or `tcp://host:port`
 * (plain HTTP; no TLS). Throws on anything else, naming the value.
 */
export function dockerFromEnv(env: NodeJS.ProcessEnv = process.env): Dockerode {
  const host = env.DOCKER_HOST?.trim() || DEFAULT_DOCKER_HOST;
  if (host.startsWith('unix://')) return new Dockerode({ socketPath: host.slice('unix://'.length) });
  if (host.startsWith('tcp://')) {
    const url = new URL(`http://${host.slice('tcp://'.length)}`);
    return new Dockerode({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
  }
  throw new Error(`DOCKER_HOST must be unix:///path or tcp://host:port, got '${host}'`);
}
