// A farm whose every part is a real process the test owns and can break: its own
// nats-server (kill -9 and restart on the same port), its own database (made
// unreachable with ALLOW_CONNECTIONS false plus pg_terminate_backend; the
// machine's Postgres stays up), server processes killed with SIGKILL and started
// again on the same ports, and agents as child processes.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync, rmSync } from "node:fs";
import * as net from "node:net";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import * as grpc from "@grpc/grpc-js";
import {
  certFingerprint,
  clientTlsCredentials,
  createFailoverClient,
  RunService,
  type FailoverClient,
} from "@dockyard/proto";
import { createTestDatabase, type TestDatabase } from "./database";
import { DOCKER_HOST, freePort, REPO_ROOT } from "./farm";
import { waitFor } from "./wait";
import { removeAgentResources } from "./agent-resources";
import { tempDir } from "@dockyard/testkit";

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ADMIN_URL = process.env.DOCKYARD_TEST_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface OutageFarmOptions {
  /** Server replicas (each its own process, own ports, one database, one NATS). */
  replicas?: number;
  /** Extra server env (timings). */
  env?: Record<string, string>;
  /**
   * Where servers and our nats-server listen (default 127.0.0.1): 0.0.0.0 lets an agent in a
   * network namespace reach them over its veth; processes here keep using 127.0.0.1.
   */
  listenHost?: string;
  /** Replica 0 listens on every address (for an agent in a network namespace). */
  listenAll?: boolean;
  /** The server's entry under test/src/bin (default server.ts; server-probe.ts adds the test-only server kinds). */
  serverBin?: string;
}

export interface ServerProcess {
  grpc: string;
  /** Where it listens, when not only at `grpc` (0.0.0.0:port: also for an agent in a network namespace). */
  listen?: string;
  http: string;
  child: ChildProcess | null;
  logFile: string;
}

/**
 * Test timings: a lease of 8 s (agents fence at 5.6 s) and loss after 4 s, so a 30 s outage
 * is almost four leases long. (A 6 s lease would leave the fence 0.4 s beyond the agents'
 * first probe round, too little on a busy machine; see @dockyard/proto fence.ts.)
 */
export const OUTAGE_TIMINGS = {
  DOCKYARD_HEARTBEAT_INTERVAL_MS: "300",
  DOCKYARD_AGENT_LOST_TIMEOUT_MS: "4000",
  DOCKYARD_LEASE_TTL_MS: "8000",
  DOCKYARD_AGENT_POLL_INTERVAL_MS: "1000",
  DOCKYARD_SWEEP_INTERVAL_MS: "200",
  DOCKYARD_SCHEDULER_INTERVAL_MS: "200",
};

export class OutageFarm {
  readonly prefix = `o${randomBytes(4).toString("hex")}`;
  readonly joinToken = `dyj_test_${randomBytes(12).toString("hex")}`;
  readonly apiToken = `dya_test_${randomBytes(12).toString("hex")}`;
  readonly dataDir = tempDir("outage");
  readonly servers: ServerProcess[] = [];
  readonly agents: { name: string; child: ChildProcess; logFile: string }[] = [];
  natsPort = 0;
  nats: ChildProcess | null = null;
  database!: TestDatabase;
  pg!: pg.Pool;
  client!: FailoverClient<(typeof RunService)["method"]>;

  constructor(private readonly opts: OutageFarmOptions = {}) {}

  get natsUrl(): string {
    return `nats://127.0.0.1:${this.natsPort}`;
  }

  get caPem(): string {
    return readFileSync(path.join(this.dataDir, "pki", "ca.crt"), "utf8");
  }

  async start(): Promise<void> {
    this.database = await createTestDatabase();
    this.pg = new pg.Pool({ connectionString: this.database.url, max: 2 });
    this.pg.on("error", () => undefined);
    this.natsPort = await freePort();
    await this.startNats();
    for (let i = 0; i < (this.opts.replicas ?? 1); i++) {
      const port = await freePort();
      this.servers.push({
        grpc: `127.0.0.1:${port}`,
        ...(i === 0 && this.opts.listenAll && { listen: `0.0.0.0:${port}` }),
        http: `127.0.0.1:${await freePort()}`,
        child: null,
        logFile: path.join(this.dataDir, `server-${i}.log`),
      });
    }
    for (let i = 0; i < this.servers.length; i++) await this.startServer(i);
    this.client = createFailoverClient(
      RunService,
      this.servers.map((s) => s.grpc),
      {
        credentials: clientTlsCredentials(this.caPem),
        metadata: () => {
          const md = new grpc.Metadata();
          md.set("authorization", `Bearer ${this.apiToken}`);
          return md;
        },
      },
    );
  }

  async startNats(): Promise<void> {
    this.nats = spawn("nats-server", ["-a", this.opts.listenHost ?? "127.0.0.1", "-p", String(this.natsPort)], {
      stdio: "ignore",
    });
    await waitFor(() => canConnect(this.natsPort), { message: `nats-server on ${this.natsPort}`, timeoutMs: 10_000 });
  }

  /** kill -9 our nats-server. */
  async killNats(): Promise<void> {
    const n = this.nats;
    this.nats = null;
    if (n && n.exitCode === null) {
      const gone = new Promise((r) => n.once("exit", r));
      n.kill("SIGKILL");
      await gone;
    }
  }

  async startServer(i: number): Promise<void> {
    const s = this.servers[i]!;
    const out = openSync(s.logFile, "a");
    s.child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(HERE, "../bin", this.opts.serverBin ?? "server.ts")],
      {
        cwd: REPO_ROOT,
        stdio: ["ignore", out, out],
        env: {
          ...process.env,
          ...OUTAGE_TIMINGS,
          ...this.opts.env,
          DATABASE_URL: this.database.url,
          DOCKYARD_DATA_DIR: this.dataDir,
          DOCKYARD_NATS_URL: this.natsUrl,
          DOCKYARD_NATS_PREFIX: this.prefix,
          DOCKYARD_GRPC_LISTEN:
            s.listen ?? (this.opts.listenHost ? s.grpc.replace("127.0.0.1", this.opts.listenHost) : s.grpc),
          DOCKYARD_HTTP_LISTEN: s.http,
          DOCKYARD_JOIN_TOKEN: this.joinToken,
          DOCKYARD_API_TOKEN: this.apiToken,
          DOCKYARD_LOG_LEVEL: "info",
        },
      },
    );
    const child = s.child;
    await waitFor(
      async () => {
        // A server that exited will never answer: say why now (its log's end), not after the deadline.
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(
            `server ${i} exited before it answered (${child.exitCode ?? child.signalCode}): ${logTail(s.logFile)}`,
          );
        return (await fetch(`http://${s.http}/healthz`).catch(() => null))?.ok;
      },
      { message: `server ${i} to start (log: ${s.logFile})`, timeoutMs: 60_000 },
    );
  }

  /** kill -9 one server process. */
  async killServer(i: number): Promise<void> {
    const c = this.servers[i]!.child;
    this.servers[i]!.child = null;
    if (c && c.exitCode === null) {
      const gone = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await gone;
    }
  }

  /** Make our database refuse connections and end the ones it has (the machine's Postgres stays up). */
  async databaseOff(): Promise<void> {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${this.database.name} ALLOW_CONNECTIONS false`);
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        [this.database.name],
      );
    } finally {
      await admin.end();
    }
  }

  async databaseOn(): Promise<void> {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${this.database.name} ALLOW_CONNECTIONS true`);
    } finally {
      await admin.end();
    }
  }

  /** An agent process (docker or shell executor) that knows every replica. */
  spawnAgent(
    name: string,
    opts: {
      executor: "docker" | "shell";
      labels?: Record<string, string>;
      capacity?: number;
      servers?: number[];
      /** Another way to our NATS (a proxy the test can cut). */
      natsUrl?: string;
      /** Other addresses for the servers (as seen from a network namespace). */
      serverUrls?: string[];
      /** Run it in this network namespace (`ip netns exec`). */
      netns?: string;
      env?: Record<string, string>;
      /** Its state directory (a restarted agent keeps its identity); default: a new one. */
      stateDir?: string;
      /** Run the built agent (dist/dockyard.js agent), as installed hosts do, instead of the sources under tsx. */
      built?: boolean;
    },
  ): void {
    const stateDir = opts.stateDir ?? tempDir(`outage-agent-${name}`);
    const logFile = path.join(stateDir, "agent.log");
    const out = openSync(logFile, "a");
    const argv = opts.built
      ? [process.execPath, path.join(REPO_ROOT, "dist/dockyard.js"), "agent"]
      : [process.execPath, "--import", "tsx", path.join(HERE, "../bin/agent.ts")];
    if (opts.netns) argv.unshift("ip", "netns", "exec", opts.netns);
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: REPO_ROOT,
      stdio: ["ignore", out, out],
      env: {
        ...process.env,
        DOCKYARD_SERVER_URL:
          opts.serverUrls?.join(",") ??
          (opts.servers ?? this.servers.map((_, i) => i)).map((i) => this.servers[i]!.grpc).join(","),
        DOCKYARD_NATS_URL: opts.natsUrl ?? this.natsUrl,
        DOCKYARD_NATS_PREFIX: this.prefix,
        DOCKYARD_JOIN_TOKEN: `${this.joinToken}.${certFingerprint(this.caPem)}`,
        DOCKYARD_AGENT_NAME: name,
        DOCKYARD_AGENT_EXECUTOR: opts.executor,
        DOCKYARD_AGENT_CAPACITY: String(opts.capacity ?? 4),
        DOCKYARD_AGENT_LABELS: Object.entries(opts.labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(","),
        DOCKYARD_AGENT_STATE_DIR: stateDir,
        DOCKER_HOST,
        DOCKYARD_LOG_LEVEL: "info",
        ...opts.env,
      },
    });
    this.agents.push({ name, child, logFile });
  }

  async waitAgentsOnline(n: number): Promise<void> {
    await waitFor(
      async () => (await this.pg.query("SELECT count(*)::int AS n FROM agents WHERE state = 'online'")).rows[0].n >= n,
      {
        message: `${n} agents online`,
        timeoutMs: 60_000,
      },
    );
  }

  async stop(): Promise<void> {
    const exited = this.agents.map((a) =>
      a.child.exitCode === null && a.child.signalCode === null ? new Promise((r) => a.child.once("exit", r)) : null,
    );
    for (const a of this.agents) if (a.child.exitCode === null) a.child.kill("SIGKILL");
    for (let i = 0; i < this.servers.length; i++) await this.killServer(i);
    this.client?.close();
    await this.killNats();
    await this.databaseOn().catch(() => undefined);
    // Killed agents leave their stage containers (and the run's volume) behind: remove them.
    const agentIds = this.pg
      ? await this.pg
          .query<{ id: string }>("SELECT id FROM agents")
          .then((r) => r.rows.map((row) => row.id))
          .catch((err: Error) => {
            process.stderr.write(`outage farm: cannot list its agents, so their containers stay: ${err.message}\n`);
            return [];
          })
      : [];
    await removeAgentResources([DOCKER_HOST], agentIds);
    await this.pg?.end().catch(() => undefined);
    await this.database?.drop();
    // The temp dirs go too (they held the CA, the logs and each agent's state).
    await Promise.all(exited);
    for (const dir of [this.dataDir, ...this.agents.map((a) => path.dirname(a.logFile))])
      rmSync(dir, { recursive: true, force: true });
  }
}

/** The last lines of a log file, for an error message. */
function logTail(file: string): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-5).join(" | ");
  } catch {
    return "(no log)";
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new net.Socket();
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.connect(port, "127.0.0.1");
  });
}
