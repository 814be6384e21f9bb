// What a server replica looks like from this agent, probed with a fresh TCP connection
// and a TLS handshake, for the fence (fence.ts) to tell "no server can give my stage
// away" from "I may be cut off from a server that can":
//   refused  the host answered that nothing listens there (TCP RST): no server runs;
//   frozen   the kernel took the connection but the server answered no TLS hello within
//            PROBE_ANSWER_TIMEOUT_MS: its event loop stands still (SIGSTOP, a long
//            pause), and it notices that stall when it runs again (control-plane stall.ts);
//   alive    it answered (a handshake, or even an error: a plaintext server);
//   unknown  no answer to the connection at all (a cut link, dropped packets, no route),
//            or this agent was itself too slow to judge.
// Only `refused` and `frozen` are evidence; they assume nothing between the agent and
// the server accepts connections on the server's behalf (a TCP proxy would look frozen).
import net from "node:net";
import tls from "node:tls";
import { performance } from "node:perf_hooks";
import { PROBE_ANSWER_TIMEOUT_MS, PROBE_CONNECT_TIMEOUT_MS } from "@dockyard/proto";

export type ProbeVerdict = "refused" | "frozen" | "alive" | "unknown";

/** How late a timer of our own may fire before we distrust a "frozen" verdict (our loop stood still). */
const SELF_LAG_MS = 500;

/** Probe `host:port`; never throws. */
export function probeReplica(
  address: string,
  opts: { connectTimeoutMs?: number; answerTimeoutMs?: number } = {},
): Promise<ProbeVerdict> {
  const connectTimeout = opts.connectTimeoutMs ?? PROBE_CONNECT_TIMEOUT_MS;
  const answerTimeout = opts.answerTimeoutMs ?? PROBE_ANSWER_TIMEOUT_MS;
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  const port = Number(address.slice(i + 1));
  return new Promise((resolve) => {
    let done = false;
    let secure: tls.TLSSocket | null = null;
    const socket = net.connect({ host, port });
    const finish = (v: ProbeVerdict) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      secure?.destroy();
      socket.destroy();
      resolve(v);
    };
    let timer = setTimeout(() => finish("unknown"), connectTimeout);
    socket.once("error", (err: NodeJS.ErrnoException) => finish(err.code === "ECONNREFUSED" ? "refused" : "unknown"));
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      const startedAt = performance.now();
      timer = setTimeout(
        () => finish(performance.now() - startedAt > answerTimeout + SELF_LAG_MS ? "unknown" : "frozen"),
        answerTimeout,
      );
      // Any answer, a finished handshake or an error the server caused (a plaintext server,
      // a reset), shows a loop that runs. Certificates are not checked: nothing is sent.
      secure = tls.connect({
        socket,
        rejectUnauthorized: false,
        ALPNProtocols: ["h2"],
        servername: net.isIP(host) ? undefined : host,
      });
      secure.once("secureConnect", () => finish("alive"));
      secure.once("error", () => finish("alive"));
      secure.once("close", () => finish("alive"));
    });
  });
}
