// Cutting an agent off with iptables: DROP (no reset, no answer) of every packet to
// the loopback ports it talks to, so its connections and its probes go unanswered
// while the servers stay up. Rules carry a comment naming the test farm, and `heal`
// removes exactly those (also when the test failed).
import { execFileSync } from "node:child_process";
import net from "node:net";

export class Partition {
  private readonly rules: string[][] = [];

  constructor(private readonly tag: string) {}

  /**
   * Drop every TCP packet to and from 127.0.0.1:`port` from now on (both ways: a notice the server sends must not get
   * through either).
   */
  drop(port: number): void {
    for (const dir of ["--dport", "--sport"]) {
      const rule = [
        "INPUT",
        "-i",
        "lo",
        "-p",
        "tcp",
        dir,
        String(port),
        "-m",
        "comment",
        "--comment",
        `dockyard-test-${this.tag}`,
        "-j",
        "DROP",
      ];
      execFileSync("iptables", ["-I", ...rule]);
      this.rules.push(rule);
    }
  }

  /** Remove our rules (idempotent). */
  heal(): void {
    for (const rule of this.rules.splice(0)) {
      try {
        execFileSync("iptables", ["-D", ...rule]);
      } catch {
        // already gone
      }
    }
  }
}

/** A TCP proxy to 127.0.0.1:`target` on its own port at `host` (so one agent's NATS link can be cut alone). */
export async function tcpProxy(target: number, host = "127.0.0.1"): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/**
 * A network namespace joined to the host by a veth pair (host 10.213.N.1, namespace
 * 10.213.N.2): an agent started in it reaches servers listening on the host side, and
 * `down()` cuts the link. `remove()` deletes both (also when the test failed).
 */
export class VethNamespace {
  readonly name: string;
  readonly hostIp: string;
  private readonly hostIf: string;

  constructor(tag: string) {
    const n = 1 + (parseInt(tag.slice(-4), 16) % 250);
    this.name = `dy-${tag}`;
    this.hostIf = `dyh${tag.slice(-8)}`;
    this.hostIp = `10.213.${n}.1`;
    const nsIf = `dyn${tag.slice(-8)}`;
    const ip = (...args: string[]) => execFileSync("ip", args);
    ip("netns", "add", this.name);
    ip("link", "add", this.hostIf, "type", "veth", "peer", "name", nsIf);
    ip("link", "set", nsIf, "netns", this.name);
    ip("addr", "add", `${this.hostIp}/30`, "dev", this.hostIf);
    ip("link", "set", this.hostIf, "up");
    ip("netns", "exec", this.name, "ip", "addr", "add", `10.213.${n}.2/30`, "dev", nsIf);
    ip("netns", "exec", this.name, "ip", "link", "set", nsIf, "up");
    ip("netns", "exec", this.name, "ip", "link", "set", "lo", "up");
  }

  down(): void {
    execFileSync("ip", ["link", "set", this.hostIf, "down"]);
  }

  up(): void {
    execFileSync("ip", ["link", "set", this.hostIf, "up"]);
  }

  remove(): void {
    for (const args of [
      ["link", "del", this.hostIf],
      ["netns", "del", this.name],
    ]) {
      try {
        execFileSync("ip", args, { stdio: "ignore" });
      } catch {
        // gone already
      }
    }
  }
}
