// A farm for tests: a real server (in-process, ports 0) against a fresh
// Postgres database and a per-farm NATS subject prefix, plus agents either
// in-process or as child processes (to kill -9 them).
import { spawn, type ChildProcess } from "node:child_process";
import { openSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import pg from "pg";
import pino from "pino";
import * as grpc from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { clientTlsCredentials, createClient, RunService, type TypedClient } from "@dockyard/proto";
import { startServer, loadConfig, type ServerHandle, type ServerConfig } from "@dockyard/control-plane";
import { Agent, loadAgentConfig, chooseExecutors } from "@dockyard/agent";
import { createTestDatabase, type TestDatabase } from "./database";
import { removeAgentResources } from "./agent-resources";
import { freePort, tempDir } from "@dockyard/testkit";

export const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
export const DOCKER_HOST = process.env.DOCKER_HOST ?? "unix:///tmp/dockyard-docker/docker.sock";
const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, "../../..");

export type RunClient = TypedClient<(typeof RunService)["method"]>;

export interface AgentOptions {
  name: string;
  labels?: Record<string, string>;
  capacity?: number;
  executor?: "docker" | "shell";
  stateDir?: string;
  /** The join token as printed (`<secret>.<CA fingerprint>`); default: farm.agentJoinToken. */
  joinToken?: string;
  /** Agent log level (default: DOCKYARD_TEST_LOG or info; the log goes to a file in the state dir). */
  logLevel?: string;
  /** The agent's Docker engine (default DOCKER_HOST: the test engine). */
  dockerHost?: string;
  /** More agent environment (e.g. DOCKYARD_BUILD_CACHE_BYTES). */
  env?: Record<string, string>;
}

export interface SpawnedAgent {
  child: ChildProcess;
  stateDir: string;
  logFile: string;
  exited: Promise<number | null>;
}

export interface Farm {
  server: ServerHandle;
  config: ServerConfig;
  database: TestDatabase;
  prefix: string;
  /** The join token's secret (as configured on the server); agents get it with the CA fingerprint appended. */
  joinToken: string;
  /** The join token as `dockyard token create` prints it: `<secret>.<CA fingerprint>`. */
  agentJoinToken: string;
  apiToken: string;
  /** The server's data directory (its PKI and secret key live there). */
  dataDir: string;
  /** The farm CA's certificate file, for CLI processes (DOCKYARD_CA_FILE). */
  caFile: string;
  client: RunClient;
  pg: pg.Pool;
  agents: Agent[];
  startAgent(opts: AgentOptions): Promise<Agent>;
  agentEnv(opts: AgentOptions): Record<string, string>;
  spawnAgent(opts: AgentOptions): SpawnedAgent;
  /** Stop the server; `start` brings it back with the same config (same ports when they were fixed). */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

export const testLog = () => pino({ level: process.env.DOCKYARD_TEST_LOG ?? "silent" });

/** A free TCP port on loopback (for servers that must come back on the same address). */
export { freePort };

export async function startFarm(opts: { env?: Record<string, string>; agents?: AgentOptions[] } = {}): Promise<Farm> {
  const database = await createTestDatabase();
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const joinToken = `dyj_test_${randomBytes(12).toString("hex")}`;
  const apiToken = `dya_test_${randomBytes(12).toString("hex")}`;
  const dataDir = tempDir("server");
  const config = loadConfig({
    DOCKYARD_DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    DOCKYARD_NATS_URL: NATS_URL,
    DOCKYARD_NATS_PREFIX: prefix,
    DOCKYARD_GRPC_LISTEN: "127.0.0.1:0",
    DOCKYARD_HTTP_LISTEN: "127.0.0.1:0",
    DOCKYARD_JOIN_TOKEN: joinToken,
    DOCKYARD_API_TOKEN: apiToken,
    DOCKYARD_HEARTBEAT_INTERVAL_MS: "300",
    DOCKYARD_AGENT_LOST_TIMEOUT_MS: "4000",
    DOCKYARD_LEASE_TTL_MS: "6000",
    DOCKYARD_AGENT_POLL_INTERVAL_MS: "1000",
    DOCKYARD_SWEEP_INTERVAL_MS: "200",
    DOCKYARD_SCHEDULER_INTERVAL_MS: "200",
    // Tests call the API at machine speed (the role walk sends hundreds of requests per token); rate tests set their own.
    DOCKYARD_API_RATE_PER_S: "100000",
    DOCKYARD_API_RATE_BURST: "100000",
    ...opts.env,
  });
  let server = await startServer(config, { log: testLog(), registry: new Registry() });
  let serverUp = true;
  const caFile = path.join(dataDir, "pki", "ca.crt");
  const client = createClient(RunService, server.grpcAddress, {
    credentials: clientTlsCredentials(server.pki.caPem),
    metadata: () => {
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${apiToken}`);
      return md;
    },
  });
  const pool = new pg.Pool({ connectionString: database.url, max: 3 });
  pool.on("error", () => undefined); // the database is dropped at the end
  const agents: Agent[] = [];
  const children: SpawnedAgent[] = [];
  // The engines this farm's agents use: what they leave there is removed at stop.
  const engines = new Set<string>([DOCKER_HOST]);

  const engineOf = (a: AgentOptions): string => {
    const host = a.dockerHost ?? DOCKER_HOST;
    engines.add(host);
    return host;
  };
  const agentEnv = (a: AgentOptions): Record<string, string> => ({
    DOCKYARD_SERVER_URL: server.grpcAddress,
    DOCKYARD_NATS_URL: NATS_URL,
    DOCKYARD_NATS_PREFIX: prefix,
    DOCKYARD_JOIN_TOKEN: a.joinToken ?? `${joinToken}.${server.pki.caFingerprint}`,
    DOCKYARD_AGENT_NAME: a.name,
    DOCKYARD_AGENT_LABELS: Object.entries(a.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(","),
    DOCKYARD_AGENT_CAPACITY: String(a.capacity ?? 2),
    DOCKYARD_AGENT_EXECUTOR: a.executor ?? "docker",
    DOCKYARD_AGENT_STATE_DIR: a.stateDir ?? tempDir(`agent-${a.name}`),
    DOCKER_HOST: engineOf(a),
    DOCKYARD_LOG_LEVEL: a.logLevel ?? process.env.DOCKYARD_TEST_LOG ?? "info",
    ...a.env,
  });

  const farm: Farm = {
    server,
    config,
    database,
    prefix,
    joinToken,
    agentJoinToken: `${joinToken}.${server.pki.caFingerprint}`,
    apiToken,
    dataDir,
    caFile,
    client,
    pg: pool,
    agents,
    agentEnv,
    async startAgent(a) {
      const cfg = loadAgentConfig(agentEnv(a));
      const agent = new Agent(cfg, { log: testLog(), executors: await chooseExecutors(cfg) });
      await agent.start();
      agents.push(agent);
      return agent;
    },
    spawnAgent(a) {
      const env = agentEnv(a);
      const logFile = path.join(env.DOCKYARD_AGENT_STATE_DIR!, "agent.log");
      const out = openSync(logFile, "a");
      // DOCKYARD_AGENT_NODE_ARGS: extra node flags for agent processes (e.g. --cpu-prof in a benchmark).
      const nodeArgs = (process.env.DOCKYARD_AGENT_NODE_ARGS ?? "").split(" ").filter(Boolean);
      const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", path.join(HERE, "../bin/agent.ts")], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...env },
        stdio: ["ignore", out, out],
      });
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      const spawned = { child, stateDir: env.DOCKYARD_AGENT_STATE_DIR!, logFile, exited };
      children.push(spawned);
      return spawned;
    },
    async stopServer() {
      await server.stop();
      serverUp = false;
    },
    async startServer() {
      server = await startServer(config, { log: testLog(), registry: new Registry() });
      farm.server = server;
      serverUp = true;
    },
    async stop() {
      for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL");
      await Promise.all(agents.map((a) => a.abort().catch(() => undefined)));
      client.close();
      if (serverUp) await server.stop();
      const { rows } = await pool.query<{ id: string }>("select id from agents");
      await removeAgentResources(
        engines,
        rows.map((r) => r.id),
      );
      await pool.end();
      await database.drop();
    },
  };
  for (const a of opts.agents ?? []) await farm.startAgent(a);
  return farm;
}
