// Cutting an agent off with iptables: DROP (no reset, no answer) of every packet to
// the loopback ports it talks to, so its connections and its probes go unanswered
// while the servers stay up. Rules carry a comment naming the test farm, and `heal`
// removes exactly those (also when the test failed).
import { execFileSync } from "node:child_process";
import net from "node:net";

export class Partition {
  private readonly rules: string[][] = [];

  constructor(private readonly tag: string) {}

  /** Drop every TCP packet to and from 127.0.0.1:`port` from now on (both ways: a notice the server sends must not get through either). */
  drop(port: number): void {
    for (const dir of ["--dport", "--sport"]) {
      const rule = ["INPUT", "-i", "lo", "-p", "tcp", dir, String(port), "-m", "comment", "--comment", `dockyard-test-${this.tag}`, "-j", "DROP"];
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

/** A TCP proxy to 127.0.0.1:`target` on its own port (so one agent's NATS link can be cut alone). */
export async function tcpProxy(target: number): Promise<{ port: number; close(): void }> {
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
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}
