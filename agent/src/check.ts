// `dockyard agent --check`: what an operator runs after install.sh, before trusting the unit. It
// checks each thing the agent needs (its Docker engine, the server's CA against the pin, the
// server's gRPC endpoint, NATS) and says per check "ok" or what is wrong, in words.
import net from "node:net";
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import { certFingerprint, clientTlsCredentials, fetchPinnedCa, quietIpServerNameWarning } from "@dockyard/proto";
import { AgentConfigError, loadAgentConfig, type AgentConfig } from "./config";
import { dockerFromEnv } from "./executor/docker-client";

/** One line of the report. */
export interface CheckResult {
  name: "config" | "docker" | "ca" | "server" | "nats";
  ok: boolean;
  /** What was found ("Docker 24.0.5 at unix:///…") or what is wrong, in words. */
  detail: string;
}

const TIMEOUT_MS = 5000;

/** Node's socket error codes in words (the code itself stays in parentheses for searching). */
export function describeError(err: unknown): string {
  let e = err as (Error & { code?: string }) | undefined;
  // fetchPinnedCa and friends wrap the socket's error as `cause`.
  while (e && !e.code && e.cause) e = e.cause as Error & { code?: string };
  const words: Record<string, string> = {
    ECONNREFUSED: "connection refused",
    CONNECTION_REFUSED: "connection refused",
    ENOENT: "no such socket",
    EACCES: "permission denied",
    ETIMEDOUT: "timed out",
    ENOTFOUND: "no such host",
    EAI_AGAIN: "the host name did not resolve",
    EHOSTUNREACH: "host unreachable",
    ENETUNREACH: "network unreachable",
    ECONNRESET: "connection reset",
  };
  const code = e?.code;
  if (code && words[code]) return words[code];
  return (e ?? (err as Error))?.message ?? String(err);
}

function withTimeout<T>(p: Promise<T>, what: string, ms = TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function checkDocker(config: AgentConfig): Promise<CheckResult> {
  if (config.executor === "shell") {
    return { name: "docker", ok: true, detail: "not used (DOCKYARD_AGENT_EXECUTOR=shell)" };
  }
  try {
    const docker = dockerFromEnv({ DOCKER_HOST: config.dockerHost });
    const v = await withTimeout(docker.version(), `the Docker engine at ${config.dockerHost}`);
    return { name: "docker", ok: true, detail: `Docker ${v.Version} (API ${v.ApiVersion}) at ${config.dockerHost}` };
  } catch (err) {
    const why = describeError(err);
    const hint =
      why === "permission denied"
        ? " (is this user in the docker group?)"
        : why === "no such socket" || why === "connection refused"
          ? " (is dockerd running? DOCKER_HOST names the engine)"
          : "";
    return {
      name: "docker",
      ok: false,
      detail: `cannot reach the Docker engine at ${config.dockerHost}: ${why}${hint}`,
    };
  }
}

/** The CA PEM the agent would trust, checked against the pin on every replica; null on failure. */
async function checkCa(config: AgentConfig): Promise<{ result: CheckResult; pem: string | null }> {
  if (config.insecure) {
    return { result: { name: "ca", ok: true, detail: "not checked: DOCKYARD_INSECURE (plaintext gRPC)" }, pem: null };
  }
  let want = config.caFingerprint;
  if (config.caFile) {
    try {
      const fromFile = certFingerprint(readFileSync(config.caFile, "utf8"));
      if (want && fromFile !== want) {
        return {
          result: {
            name: "ca",
            ok: false,
            detail: `the CA in ${config.caFile} has fingerprint ${fromFile}, not the pinned ${want}`,
          },
          pem: null,
        };
      }
      want = fromFile;
    } catch (err) {
      return {
        result: { name: "ca", ok: false, detail: `cannot read the CA file ${config.caFile}: ${describeError(err)}` },
        pem: null,
      };
    }
  }
  const problems: string[] = [];
  let pem: string | null = null;
  for (const server of config.servers) {
    try {
      pem = await fetchPinnedCa(server, want!, TIMEOUT_MS);
    } catch (err) {
      const message = (err as Error).message;
      problems.push(
        message.includes("presented no certificate with fingerprint")
          ? `the server at ${server} does not present the pinned CA ${want} (a join token from another farm, or someone between us and the server?)`
          : `cannot reach the server at ${server} to check its CA: ${describeError(err)}`,
      );
    }
  }
  if (problems.length > 0) return { result: { name: "ca", ok: false, detail: problems.join("; ") }, pem };
  const where = config.servers.length === 1 ? `the server at ${config.servers[0]}` : "every server";
  return { result: { name: "ca", ok: true, detail: `${where} presents the pinned CA sha256:${want}` }, pem };
}

function tcpReach(address: string): Promise<void> {
  const i = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}

function grpcReady(address: string, credentials: grpc.ChannelCredentials): Promise<void> {
  const client = new grpc.Client(address, credentials);
  return new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + TIMEOUT_MS, (err) => (err ? reject(err) : resolve())),
  ).finally(() => client.close());
}

async function checkServer(config: AgentConfig, pem: string | null): Promise<CheckResult> {
  const problems: string[] = [];
  for (const server of config.servers) {
    try {
      await tcpReach(server);
    } catch (err) {
      problems.push(`cannot reach the server at ${server}: ${describeError(err)}`);
      continue;
    }
    if (!config.insecure && !pem) continue; // reachable; TLS cannot be checked without the CA (see ca)
    try {
      await grpcReady(server, config.insecure ? grpc.credentials.createInsecure() : clientTlsCredentials(pem!));
    } catch (err) {
      problems.push(`the server at ${server} accepts connections but no gRPC session: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) return { name: "server", ok: false, detail: problems.join("; ") };
  const how = config.insecure ? "plaintext gRPC" : pem ? "gRPC over TLS" : "TCP (TLS not checked: no CA)";
  return {
    name: "server",
    ok: true,
    detail: `${config.servers.join(", ")} ${config.servers.length > 1 ? "answer" : "answers"} ${how}`,
  };
}

async function checkNats(config: AgentConfig): Promise<CheckResult> {
  try {
    const nc = await withTimeout(
      connect({
        servers: config.natsUrl,
        timeout: TIMEOUT_MS,
        reconnect: false,
        name: `dockyard-check-${config.name}`,
      }),
      `NATS at ${config.natsUrl}`,
      TIMEOUT_MS + 1000,
    );
    const info = nc.info;
    await nc.close();
    return {
      name: "nats",
      ok: true,
      detail: `connected to ${config.natsUrl}${info ? ` (nats-server ${info.version})` : ""}`,
    };
  } catch (err) {
    return { name: "nats", ok: false, detail: `cannot connect to NATS at ${config.natsUrl}: ${describeError(err)}` };
  }
}

/** Runs every check (config first: the others need it). Never throws. */
export async function runAgentChecks(env: Record<string, string | undefined>): Promise<CheckResult[]> {
  quietIpServerNameWarning();
  let config: AgentConfig;
  try {
    config = loadAgentConfig(env);
  } catch (err) {
    const detail = err instanceof AgentConfigError ? err.problems.join("; ") : (err as Error).message;
    return [{ name: "config", ok: false, detail }];
  }
  const [docker, ca, nats] = await Promise.all([checkDocker(config), checkCa(config), checkNats(config)]);
  const server = await checkServer(config, ca.pem);
  return [
    { name: "config", ok: true, detail: `agent ${config.name}, state in ${config.stateDir}` },
    docker,
    ca.result,
    server,
    nats,
  ];
}

/** The report as printed: one line per check, then a summary line. */
export function formatChecks(results: CheckResult[]): string {
  const lines = results.map((r) => `${r.name.padEnd(7)}${r.ok ? "ok  " : "FAIL"}  ${r.detail}\n`);
  const failed = results.filter((r) => !r.ok).length;
  lines.push(failed === 0 ? "all checks passed\n" : `${failed} of ${results.length} checks failed\n`);
  return lines.join("");
}

/** `dockyard agent --check`: prints the report; resolves true when every check passed. */
export async function agentCheck(
  env: Record<string, string | undefined>,
  out: NodeJS.WritableStream = process.stdout,
): Promise<boolean> {
  const results = await runAgentChecks(env);
  out.write(formatChecks(results));
  return results.every((r) => r.ok);
}
