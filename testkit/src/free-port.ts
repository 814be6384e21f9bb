// A free TCP port for a test server, taken below the kernel's ephemeral range (32768-60999 on
// Linux): a port from that range (what listen(0) gives) can be taken by any outgoing
// connection between the check and the server's own bind, which made servers of busy test
// runs fail with EADDRINUSE. Random in 20000-32767, checked by binding it; another test's pick
// of the same port is left to the odds (1 in 12768) and to the caller's retry.
import net from "node:net";

const LOW = 20_000;
const HIGH = 32_768;

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A port nothing listens on at `host` now (default 127.0.0.1), outside the ephemeral range. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await canListen(port, host)) return port;
  }
  throw new Error(`no free port found in ${LOW}-${HIGH - 1} on ${host} after 100 tries`);
}
