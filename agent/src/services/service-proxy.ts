// The proxy in front of a service's replicas on one host: one HAProxy process per service,
// started detached (it outlives the agent, so an agent restart drops no request) with a
// fixed set of server slots, all disabled at first. Replicas move in and out through the
// runtime API (haproxy-runtime.ts), never by a reload: put a healthy replica in a slot, drain
// the old one until nothing is in flight, then take it out. Retries on a failed connection,
// an empty response or a 503 go to another replica, so a replica that dies mid-request costs
// the client nothing while another one is in.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { HaproxyRuntime, HaproxyRuntimeError, type ServerStat } from "./haproxy-runtime";

const run = promisify(execFile);
const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const BACKEND = "replicas";
const SLOT_PREFIX = "r";
const MAX_SLOTS = 64;

export interface ServiceProxySpec {
  service: string;
  /** Where its config, pid file and admin socket live (the agent's state directory). */
  dir: string;
  /** The service's stable address on this host. */
  bind: { host: string; port: number };
  /** How many replicas it can route to at once (new and old ones during an update). */
  slots: number;
  /** The haproxy binary (Debian's /usr/sbin/haproxy by default). */
  binary?: string;
}

/** One slot of the proxy: which replica it routes to, in what state, how busy. */
export interface ProxySlot {
  slot: number;
  /** `ip:port`, or null for an empty slot. */
  addr: string | null;
  state: "ready" | "drain" | "maint";
  current: number;
}

export class ServiceProxy {
  readonly runtime: HaproxyRuntime;

  constructor(private readonly spec: ServiceProxySpec) {
    if (!SERVICE_NAME.test(spec.service))
      throw new HaproxyRuntimeError(
        `service name '${spec.service}' must be 1-63 of a-z 0-9 - starting with a letter or digit`,
      );
    if (!Number.isInteger(spec.slots) || spec.slots < 1 || spec.slots > MAX_SLOTS)
      throw new HaproxyRuntimeError(`slots ${spec.slots} must be 1 to ${MAX_SLOTS}`);
    if (!Number.isInteger(spec.bind.port) || spec.bind.port < 1 || spec.bind.port > 65535)
      throw new HaproxyRuntimeError(`port ${spec.bind.port} must be 1 to 65535`);
    this.runtime = new HaproxyRuntime(this.file("admin.sock"));
  }

  /** The service's address on this host. */
  get address(): string {
    return `${this.spec.bind.host}:${this.spec.bind.port}`;
  }

  /** The proxy's process id when it runs (its pid file names a live haproxy), else null. */
  pid(): number | null {
    try {
      const pid = Number(readFileSync(this.file("haproxy.pid"), "utf8").trim());
      return Number.isInteger(pid) && pid > 0 && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "haproxy"
        ? pid
        : null;
    } catch {
      return null;
    }
  }

  /** Start the proxy unless it runs (idempotent: an agent restart finds the one it started). */
  async ensure(): Promise<void> {
    if (this.pid() !== null) return;
    mkdirSync(this.spec.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.file("haproxy.cfg"), this.config());
    try {
      // -D: daemon, detached from us; it writes its pid file once it listens.
      await run(this.spec.binary ?? "haproxy", ["-D", "-f", this.file("haproxy.cfg"), "-p", this.file("haproxy.pid")], {
        timeout: 10_000,
      });
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? (err as Error).message).trim();
      throw new HaproxyRuntimeError(
        `proxy of service '${this.spec.service}' did not start: ${stderr.split("\n").slice(-3).join(" | ")}`,
      );
    }
    if (this.pid() === null || !existsSync(this.file("admin.sock")))
      throw new HaproxyRuntimeError(`proxy of service '${this.spec.service}' started but is not running`);
  }

  async slots(): Promise<ProxySlot[]> {
    const stats = await this.runtime.servers(BACKEND);
    return stats.map((s) => slotOf(s)).sort((a, b) => a.slot - b.slot);
  }

  /** Route to the replica at `ip:port` from `slot` on: only ever for a replica already healthy. */
  async put(slot: number, ip: string, port: number): Promise<void> {
    const name = this.server(slot);
    if (!/^[0-9a-fA-F.:]{2,45}$/.test(ip)) throw new HaproxyRuntimeError(`'${ip}' is not an IP address`);
    const answer = await this.runtime.command(`set server ${BACKEND}/${name} addr ${ip} port ${port}`);
    if (answer !== "" && !/changed|no need to change/i.test(answer))
      throw new HaproxyRuntimeError(`haproxy set server ${name} addr: ${answer}`);
    await this.runtime.expectSilent(`set server ${BACKEND}/${name} state ready`);
  }

  /**
   * No new request to `slot`; resolves once nothing is in flight there (idle), or when
   * `timeoutMs` passed with `current` requests still running (the caller stops it anyway).
   */
  async drain(slot: number, timeoutMs: number): Promise<{ idle: boolean; current: number }> {
    await this.runtime.expectSilent(`set server ${BACKEND}/${this.server(slot)} state drain`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = (await this.slots()).find((x) => x.slot === slot);
      const current = s?.current ?? 0;
      if (current === 0) return { idle: true, current };
      if (Date.now() >= deadline) return { idle: false, current };
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Route nothing to `slot` any more (after drain). */
  async take(slot: number): Promise<void> {
    await this.runtime.expectSilent(`set server ${BACKEND}/${this.server(slot)} state maint`);
  }

  /** Stop the proxy process (the service loses its address on this host). */
  async stop(): Promise<void> {
    const pid = this.pid();
    if (pid === null) return;
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 5000;
    while (this.pid() !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (this.pid() !== null) process.kill(pid, "SIGKILL");
  }

  private server(slot: number): string {
    if (!Number.isInteger(slot) || slot < 1 || slot > this.spec.slots)
      throw new HaproxyRuntimeError(`slot ${slot} must be 1 to ${this.spec.slots}`);
    return `${SLOT_PREFIX}${slot}`;
  }

  private file(name: string): string {
    return path.join(this.spec.dir, name);
  }

  private config(): string {
    const { bind, slots } = this.spec;
    return [
      "global",
      `  stats socket ${this.file("admin.sock")} mode 600 level admin`,
      "  stats timeout 10s",
      "defaults",
      "  mode http",
      "  timeout connect 2s",
      "  timeout client 60s",
      "  timeout server 60s",
      "  timeout http-keep-alive 10s",
      // A replica gone between the choice and the connection: try another one.
      "  retries 3",
      "  option redispatch 1",
      "  retry-on conn-failure empty-response 503",
      "frontend service",
      `  bind ${bind.host}:${bind.port}`,
      `  default_backend ${BACKEND}`,
      `backend ${BACKEND}`,
      "  balance roundrobin",
      // Slots start disabled on a placeholder address; put() fills them.
      `  server-template ${SLOT_PREFIX} 1-${slots} 127.0.0.1:1 disabled`,
      "",
    ].join("\n");
  }
}

function slotOf(s: ServerStat): ProxySlot {
  const slot = Number(s.server.slice(SLOT_PREFIX.length));
  const state = s.status.startsWith("MAINT") ? "maint" : s.status.startsWith("DRAIN") ? "drain" : "ready";
  return { slot, addr: state === "maint" && s.addr === "127.0.0.1:1" ? null : s.addr, state, current: s.current };
}
