// The gRPC client for RunService, with the API token attached to every call.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import {
  clientTlsCredentials,
  createFailoverClient,
  fetchPinnedCa,
  parseServerList,
  RunService,
} from "@dockyard/proto";
import type { RunEvent } from "@dockyard/proto";
import type { ClientConfig } from "./config";
import { CliError, describeError, isGrpcError } from "./errors";
import type { ErrorContext } from "./errors";
import type { EventStream } from "./watch/follow";

/** Deadline for unary calls. */
export const CALL_TIMEOUT_MS = 10_000;

/**
 * How to verify the server: its CA file, or the CA fetched from its TLS
 * handshake and checked against the pinned fingerprint. Plaintext only when
 * asked for (a warning says so). Throws a CliError naming what is missing.
 */
export async function serverCredentials(
  config: ClientConfig,
  warn: (text: string) => void = () => undefined,
): Promise<grpc.ChannelCredentials> {
  const t = config.trust;
  if (t.kind === "insecure") {
    warn(
      `warning: plaintext connection to ${config.server} (--insecure): the API token and logs cross the network unencrypted\n`,
    );
    return grpc.credentials.createInsecure();
  }
  if (t.kind === "ca-file") {
    try {
      return clientTlsCredentials(readFileSync(t.file, "utf8"));
    } catch (err) {
      throw new CliError(`cannot read the CA file ${t.file}: ${(err as Error).message}`, 1, { cause: err });
    }
  }
  if (t.kind === "fingerprint") {
    let last: unknown;
    for (const server of servers(config)) {
      try {
        return clientTlsCredentials(await fetchPinnedCa(server, t.fingerprint, CALL_TIMEOUT_MS));
      } catch (err) {
        last = err;
      }
    }
    throw new CliError((last as Error).message, 1, { cause: last });
  }
  throw new CliError(
    "no way to verify the server: pass --ca FILE (the server's <data-dir>/pki/ca.crt; env DOCKYARD_CA_FILE), " +
      "--ca-fingerprint HEX (env DOCKYARD_CA_FINGERPRINT), or --insecure for a server started with DOCKYARD_INSECURE",
  );
}

/** `--server` may list replicas (`a:7400,b:7400`): calls fail over between them. */
function servers(config: ClientConfig): string[] {
  try {
    return parseServerList(config.server);
  } catch (err) {
    throw new CliError(`--server: ${(err as Error).message}`, 2, { cause: err });
  }
}

function dial(config: ClientConfig, credentials: grpc.ChannelCredentials) {
  return createFailoverClient(RunService, servers(config), {
    credentials,
    metadata: () => {
      const md = new grpc.Metadata();
      if (config.token) md.set("authorization", `Bearer ${config.token}`);
      return md;
    },
  });
}

/** A typed RunService client. */
export type RunClient = ReturnType<typeof dial>;

/**
 * Dials `config.server` (verifying it, see serverCredentials); nothing is sent until the first call. Close it when
 * done.
 */
export async function connect(config: ClientConfig, warn?: (text: string) => void): Promise<RunClient> {
  return dial(config, await serverCredentials(config, warn));
}

/**
 * Runs `fn` with a fresh client, maps any error to a CliError naming the
 * server (and `notFound` for NOT_FOUND), and closes the client afterwards.
 */
export async function withClient<T>(
  config: ClientConfig,
  fn: (client: RunClient) => Promise<T>,
  ctx: Omit<ErrorContext, "server"> = {},
): Promise<T> {
  const client = await connect(config);
  const tries = servers(config).length;
  try {
    for (let i = 1; ; i++) {
      try {
        return await fn(client);
      } catch (err) {
        // The next replica, when this one could not even be reached (so the request was never sent).
        if (i < tries && neverSent(err)) continue;
        throw err;
      }
    }
  } catch (err) {
    throw describeError(err, { server: config.server, ...ctx });
  } finally {
    client.close();
  }
}

/** A call that failed before reaching any server (a retry on another replica cannot double it). */
function neverSent(err: unknown): boolean {
  return (
    isGrpcError(err) &&
    err.code === grpc.status.UNAVAILABLE &&
    /No connection established|ECONNREFUSED|connect|Failed to connect/i.test(err.details)
  );
}

/** What WatchRun is asked for. */
export interface WatchRequest {
  runId: string;
  follow: boolean;
  /** Stage name filter; "" for all stages. */
  stage: string;
  /** With `stage`: only this attempt; 0 for all. */
  attempt?: number;
}

/** Opens WatchRun from `afterSeq` as an EventStream for followRun. */
export function openWatch(
  client: RunClient,
  req: WatchRequest,
  afterSeq: bigint,
  onConnected: () => void,
): EventStream {
  const call = client.watchRun({
    runId: req.runId,
    afterSeq,
    follow: req.follow,
    stage: req.stage,
    attempt: req.attempt ?? 0,
  });
  let cancelled = false;
  call.on("metadata", onConnected);
  // While reading, the iterator below receives every error itself; this
  // listener only keeps an error that arrives after cancel() (CANCELLED, with
  // no reader left) from becoming an uncaught exception.
  call.on("error", () => undefined);
  return {
    cancel() {
      cancelled = true;
      call.cancel();
    },
    async *[Symbol.asyncIterator]() {
      try {
        for await (const ev of call) yield ev as RunEvent;
      } catch (err) {
        if (cancelled && isGrpcError(err) && err.code === grpc.status.CANCELLED) return;
        throw err;
      }
    },
  };
}
