// This agent's side of services, shared by every service-step: where the proxies live (under
// the state directory, one directory per service), the address they bind, the haproxy binary,
// and the held-resource inventory of replicas and proxies that every heartbeat reports.
import { accessSync, constants } from "node:fs";
import os from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import type { Logger } from "pino";
import type { HeldResource, ResourceHolder } from "../resources";
import { HaproxyRuntimeError } from "./haproxy-runtime";
import { ServiceProxy } from "./service-proxy";
import { runningBind, scanServices } from "./service-resources";

/** Old and new replicas side by side during an update, plus warm ones: more than a host should run. */
export const PROXY_SLOTS = 64;

export interface ServiceHostOptions {
  docker: Dockerode | null;
  /** Where each service's proxy keeps its config, pid file and admin socket (`<dir>/<service>`). */
  dir: string;
  /** The host the proxies bind (DOCKYARD_SERVICE_ADDRESS). */
  address: string;
  /** This agent's id (known once it registered): the owner label of its replicas. */
  owner: () => string;
  log: Logger;
}

export class ServiceHost implements ResourceHolder {
  private last: HeldResource[] = [];
  private scans: Promise<void> = Promise.resolve();
  /** A scan asked for and not begun yet: later callers share it (every heartbeat asks for one). */
  private queued: Promise<void> | null = null;

  constructor(private readonly options: ServiceHostOptions) {}

  get docker(): Dockerode | null {
    return this.options.docker;
  }

  get dir(): string {
    return this.options.dir;
  }

  get owner(): string {
    return this.options.owner();
  }

  /** The address people and other hosts use: 0.0.0.0 binds everything, so it is reported as the host name. */
  advertised(port: number): string {
    const host = this.options.address === "0.0.0.0" ? os.hostname() : this.options.address;
    return `${host}:${port}`;
  }

  /** A handle on the service's proxy (running or not). */
  proxy(service: string, port: number, binary?: string): ServiceProxy {
    return new ServiceProxy({
      service,
      dir: path.join(this.options.dir, service),
      bind: { host: this.options.address, port },
      slots: PROXY_SLOTS,
      binary,
    });
  }

  /**
   * The service's proxy, started unless it runs. One that runs bound elsewhere is refused:
   * moving a service's address under its clients is not a step's decision.
   */
  async ensureProxy(service: string, port: number, binary: string): Promise<ServiceProxy> {
    const proxy = this.proxy(service, port, binary);
    if (proxy.pid() !== null) {
      const bound = runningBind(path.join(this.options.dir, service));
      if (bound !== null && bound !== proxy.address)
        throw new HaproxyRuntimeError(
          `the proxy of service '${service}' already runs on ${bound} on this host, not ${proxy.address}: ` +
            `a service keeps its proxy port (stop that proxy first to move it)`,
        );
    }
    await proxy.ensure();
    return proxy;
  }

  held(): HeldResource[] {
    return this.last;
  }

  /** Look again (engine and proxies), in a scan that starts after this call. A failed scan keeps the last inventory. */
  refresh(): Promise<void> {
    const docker = this.options.docker;
    if (!docker) return Promise.resolve();
    if (this.queued) return this.queued;
    const next = this.scans.then(() => {
      this.queued = null;
      return scanServices(docker, this).then(
        (held) => {
          this.last = held;
        },
        (err: unknown) => this.options.log.warn({ err }, "service scan failed"),
      );
    });
    this.queued = next;
    this.scans = next;
    return next;
  }

  /** Replicas and proxies belong to no run: a run's end releases nothing here. */
  runEnded(): void {}

  runnerDone(): void {}
}

/** The haproxy binary on PATH (and Debian's sbin directories, often left out of a user's PATH), or null. */
export function findHaproxy(env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = [...(env.PATH ?? "").split(path.delimiter).filter(Boolean), "/usr/sbin", "/usr/local/sbin", "/sbin"];
  for (const dir of dirs) {
    const file = path.join(dir, "haproxy");
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}
