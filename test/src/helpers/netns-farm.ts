// A farm of hosts on one machine: a control host (servers, NATS, Postgres) and agent hosts,
// each agent host a network namespace of its own (netns.ts) whose one link is a veth pair to
// the control host, with one agent in it and, for a docker host, a Docker engine of its own
// in it (netns-docker.ts).
//
// The control host is the root namespace, not a namespace of its own: the machine's Postgres,
// which every test shares, listens on 127.0.0.1 there, and so does the test itself (its
// database pool, gRPC client, copy sampler, SIGSTOP of a server), so putting the servers in
// a namespace would need a proxy for Postgres and for every check the tests make, and prove
// nothing more about the agents' side. What must hold holds here: an agent host's 127.0.0.1
// is its own loopback (nothing of the control host listens there), its only route is its
// link's /30, so it reaches the servers and NATS at the control side's link address and
// nothing else, and cutting that link cuts it off from all of them at once.
import { statSync } from "node:fs";
import type Docker from "dockerode";
import { OutageFarm } from "./outage-farm";
import { leftovers, NetnsHost } from "./netns";
import { netnsFarm, spawnNamespacedAgent } from "./netns-agent";
import { NetnsDockerd } from "./netns-docker";
import { BASE_IMAGE } from "@dockyard/agent";
import { waitFor } from "./wait";

export interface AgentHostSpec {
  /** The host's name, also its agent's name and its `host` label. */
  name: string;
  /** docker: the host gets an engine of its own, which its agent uses. */
  executor: "docker" | "shell";
  labels?: Record<string, string>;
  capacity?: number;
  /** Agent env (DOCKYARD_AGENT_FENCE, say). */
  env?: Record<string, string>;
}

export interface AgentHost {
  spec: AgentHostSpec;
  ns: NetnsHost;
  engine: NetnsDockerd | null;
}

/** See the file comment. Call order: constructor, start(), spawnAgent()…, stop() (also after a failed start). */
export class NetnsFarm {
  readonly control: OutageFarm;
  readonly hosts: AgentHost[] = [];
  private stopped = false;

  /**
   * Creates the namespaces now (the servers' certificate must name every control-side link address);
   * `registry` gets the farm at once, for an `after` hook that stops it (a test cancelled by its timeout
   * never reaches its own `finally`) and checks for leftovers.
   */
  constructor(
    specs: readonly AgentHostSpec[],
    opts: { env?: Record<string, string>; replicas?: number; registry?: NetnsFarm[] } = {},
  ) {
    try {
      for (const spec of specs) {
        const ns = NetnsHost.create();
        this.hosts.push({ spec, ns, engine: null });
      }
    } catch (err) {
      for (const h of this.hosts) h.ns.remove();
      throw err;
    }
    this.control = netnsFarm(
      this.hosts.map((h) => h.ns),
      { env: opts.env, replicas: opts.replicas },
    );
    opts.registry?.push(this);
  }

  /** Start the docker hosts' engines (together) and the control host. */
  async start(): Promise<void> {
    await Promise.all(
      this.hosts
        .filter((h) => h.spec.executor === "docker")
        .map(async (h) => {
          h.engine = await NetnsDockerd.start(h.ns, [BASE_IMAGE]);
        }),
    );
    await this.control.start();
  }

  host(name: string): AgentHost {
    const h = this.hosts.find((x) => x.spec.name === name);
    if (!h) throw new Error(`no agent host ${name}`);
    return h;
  }

  /** Start host `name`'s agent in its namespace (labels: the spec's plus host=<name>). */
  spawnAgent(name: string): void {
    const { spec, ns, engine } = this.host(name);
    spawnNamespacedAgent(this.control, ns, name, {
      executor: spec.executor,
      labels: { host: name, ...spec.labels },
      capacity: spec.capacity,
      env: { ...spec.env, ...(engine && { DOCKER_HOST: engine.host }) },
    });
  }

  /**
   * Drain (or undrain) host `name`'s agent over the HTTP API, as an admin does: a drained agent takes no new stage, so
   * a case can boot every agent first and still choose where attempt 1 goes. Undrained, it waits for the agent to be
   * online again (its next heartbeat).
   */
  async drain(name: string, drain: boolean): Promise<void> {
    const { rows } = await this.control.pg.query<{ id: string }>("SELECT id FROM agents WHERE name = $1", [name]);
    const id = rows[0]?.id;
    if (!id) throw new Error(`no agent ${name} registered`);
    const res = await fetch(
      `http://${this.control.servers[0]!.http}/api/v1/agents/${id}/${drain ? "drain" : "undrain"}`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${this.control.apiToken}` },
      },
    );
    if (!res.ok) throw new Error(`${drain ? "drain" : "undrain"} ${name}: HTTP ${res.status} ${await res.text()}`);
    await waitFor(
      async () =>
        (await this.control.pg.query<{ state: string }>("SELECT state FROM agents WHERE id = $1", [id])).rows[0]
          ?.state === (drain ? "draining" : "online"),
      { message: `agent ${name} ${drain ? "draining" : "online"}`, timeoutMs: 30_000 },
    );
  }

  /** Every host's agent, and wait for all of them to be online. */
  async spawnAll(): Promise<void> {
    for (const h of this.hosts) this.spawnAgent(h.spec.name);
    // Longer than OutageFarm's minute: a file of three cases boots six agents (tsx) at once on two cores.
    await waitFor(
      async () =>
        (await this.control.pg.query("SELECT count(*)::int AS n FROM agents WHERE state = 'online'")).rows[0].n >=
        this.hosts.length,
      { message: `${this.hosts.length} agents online`, timeoutMs: 150_000, intervalMs: 250 },
    );
  }

  /**
   * The namespace each agent process is in (by the inode of /proc/PID/ns/net against /run/netns/NAME),
   * "root" for the root namespace: where the agents really ran, not where we meant them to.
   */
  agentNamespaces(): Record<string, string> {
    const inode = (p: string) => statSync(p).ino;
    const byInode = new Map(this.hosts.map((h) => [inode(`/run/netns/${h.ns.name}`), h.ns.name]));
    const rootNs = inode("/proc/self/ns/net"); // the test runs in the root namespace
    return Object.fromEntries(
      this.control.agents.map((a) => {
        const ino = inode(`/proc/${a.child.pid}/ns/net`);
        return [a.name, ino === rootNs ? "root" : (byInode.get(ino) ?? `unknown (${ino})`)];
      }),
    );
  }

  /** The docker hosts' engines (for the copy sampler). */
  engines(): Docker[] {
    return this.hosts.flatMap((h) => (h.engine ? [h.engine.docker] : []));
  }

  /** Our namespaces and veth ends still there. */
  leftovers(): string[] {
    return leftovers(this.hosts.map((h) => h.ns));
  }

  /**
   * Agents and servers first (they hold the namespaces), then the engines, then the namespaces. Idempotent: an
   * `after` hook stops again what a test cancelled by its timeout may have left running.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.control.stop();
    } finally {
      for (const h of this.hosts) await h.engine?.stop();
      for (const h of this.hosts) h.ns.remove();
    }
  }
}

/** For an `after` hook: stop every farm (again), then wait for their namespaces and veths to be gone. */
export async function stopFarms(farms: readonly NetnsFarm[]): Promise<void> {
  for (const f of farms) await f.stop();
  const hosts = farms.flatMap((f) => f.hosts.map((h) => h.ns));
  // A namespace (and its veth pair) goes once its last process has exited.
  await waitFor(() => leftovers(hosts).length === 0, {
    message: `no leftovers: ${leftovers(hosts).join(", ")}`,
    timeoutMs: 20_000,
  });
}
