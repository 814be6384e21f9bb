// `dockyard server`: load config, start, stop on SIGTERM/SIGINT. Wiring only.
import pino from "pino";
import { quietIpServerNameWarning } from "@dockyard/proto";
import { ConfigError, loadConfig } from "./config";
import { startServer, type ServerDeps } from "./server";

/** `extra`: more server kinds (a test's server process registers its probe kinds). */
export async function serverMain(
  env: Record<string, string | undefined> = process.env,
  extra: Pick<ServerDeps, "serverKinds"> = {},
): Promise<void> {
  quietIpServerNameWarning();
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dockyard server: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { service: "dockyard-server" } });
  const server = await startServer(config, { log, ...extra });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, "server stopping");
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "server stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
