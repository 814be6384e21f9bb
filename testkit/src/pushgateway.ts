// A real Pushgateway (Debian's prometheus-pushgateway) for a test, on a free loopback port,
// ready when this resolves; stop() ends it. No persistence file: each one starts empty.
import { spawn } from "node:child_process";
import { freePort } from "./free-port";

export async function startPushgateway(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn("prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  let exited = false;
  const gone = new Promise<void>((r) => child.once("exit", () => ((exited = true), r())));
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    await gone;
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`prometheus-pushgateway exited at start: ${stderr.trim()}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus-pushgateway on ${url} not ready within 15 s: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
