// A Pushgateway of a test's own (Debian's prometheus-pushgateway 1.5), on a free loopback port.
// The ui-test tests need only this (the agent pushes, the test reads the gateway's /metrics);
// startMonitoring starts one for Prometheus to scrape.
import { startDaemon } from "./daemon";
import { removeTempDir, tempDir } from "./temp-dir";

export interface PushgatewayOptions {
  /** Where its log goes and what it runs in (default: a fresh temp dir, removed by stop()). */
  dir?: string;
}

export interface Pushgateway {
  /** `http://127.0.0.1:PORT`: give it to prom-client's Pushgateway or DOCKYARD_PUSHGATEWAY_URL. */
  url: string;
  port: number;
  dir: string;
  logFile: string;
  /** Stops it (and removes its dir when startPushgateway made it). Idempotent. */
  stop(): Promise<void>;
}

/** Starts a Pushgateway and resolves once its `/-/ready` answers; throws with its log's end if it does not. */
export async function startPushgateway(opts: PushgatewayOptions = {}): Promise<Pushgateway> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? tempDir("pushgateway");
  try {
    const daemon = await startDaemon({
      name: "pushgateway",
      bin: "prometheus-pushgateway",
      dir,
      // No persistence: a test's pushes live as long as its gateway. Debian's build defaults
      // --persistence.file to /var/lib/prometheus/pushgateway.data, one file for every gateway on
      // the machine: each new gateway would start with what earlier tests pushed.
      args: (port) => [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file=", "--log.level=warn"],
    });
    return {
      url: daemon.url,
      port: daemon.port,
      dir,
      logFile: daemon.logFile,
      stop: async () => {
        await daemon.stop();
        if (ownDir) removeTempDir(dir);
      },
    };
  } catch (err) {
    if (ownDir) removeTempDir(dir);
    throw err;
  }
}
