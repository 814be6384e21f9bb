// The compose farm of ops/compose/ as its README runs it: Debian's docker-compose (1.29, Python)
// against the test engine, with the images built from the release package (npm run package ->
// ops/images/build-dockyard-images.ts). Each farm has its own project name, ports, agent name
// and agent state directory, so it runs beside any other farm on the shared engine.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { tempDir } from "@dockyard/testkit";
import { buildPackage } from "../../../scripts/package";
import { ensureDockyardImages } from "../../../ops/images/build-dockyard-images";
import { REPO_ROOT } from "./farm";
import { freePorts } from "./demo";

export const COMPOSE_FILE = path.join(REPO_ROOT, "ops/compose/docker-compose.yml");

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

export function exec(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 300_000,
): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr: stderr + (err && typeof err.code !== "number" ? String(err) : "") });
      },
    );
  });
}

export async function mustExec(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await exec(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

export interface ComposeFarm {
  project: string;
  /** The environment docker-compose and the host CLI get (engine, ports, agent dir). */
  env: Record<string, string>;
  agentName: string;
  grpcAddress: string;
  httpUrl: string;
  compose(args: string[], timeoutMs?: number): Promise<Exec>;
  /** After up: the server's CA (a file for the host's CLI) and the admin API token, read from the farm. */
  credentials(): Promise<{ caFile: string; apiToken: string }>;
}

/** docker-compose installed (scripts/lib.sh ensure_docker_compose), the package and the four images built. */
export async function prepareComposeImages(
  dockerHost: string,
): Promise<{ version: string; images: Record<string, string> }> {
  await mustExec("bash", ["-c", `. ${REPO_ROOT}/scripts/lib.sh && ensure_docker_compose`]);
  const pkg = await buildPackage();
  const Docker = (await import("dockerode")).default;
  const docker = new Docker({ socketPath: dockerHost.replace(/^unix:\/\//, "") });
  const images = await ensureDockyardImages({ docker, pkgDir: pkg.dir });
  return { version: pkg.version, images };
}

export async function composeFarm(dockerHost: string, version: string): Promise<ComposeFarm> {
  const port = await freePorts(2);
  const id = `${process.pid}${Math.floor(Math.random() * 1e4)}`;
  const project = `dytestcompose${id}`;
  const agentDir = tempDir("compose-agent");
  const env = {
    DOCKER_HOST: dockerHost,
    DOCKER_SOCKET: dockerHost.replace(/^unix:\/\//, ""),
    DOCKYARD_VERSION: version,
    DOCKYARD_GRPC_PORT: String(port),
    DOCKYARD_HTTP_PORT: String(port + 1),
    DOCKYARD_AGENT_DIR: agentDir,
    DOCKYARD_AGENT_NAME: `compose-${id}`,
  };
  const compose = (args: string[], timeoutMs?: number) =>
    exec("docker-compose", ["-f", COMPOSE_FILE, "-p", project, "--ansi", "never", ...args], env, timeoutMs);
  return {
    project,
    env,
    agentName: env.DOCKYARD_AGENT_NAME,
    grpcAddress: `127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port + 1}`,
    compose,
    async credentials() {
      const read = async (args: string[]) => {
        const r = await compose(["exec", "-T", ...args]);
        if (r.code !== 0) throw new Error(`docker-compose exec ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
      };
      const caFile = path.join(tempDir("compose-ca"), "ca.crt");
      writeFileSync(caFile, await read(["server", "cat", "/var/lib/dockyard/pki/ca.crt"]));
      const apiToken = (await read(["-u", "0", "server", "cat", "/secrets/api-token"])).trim();
      return { caFile, apiToken };
    },
  };
}
