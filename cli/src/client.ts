// The gRPC client for RunService, with the API token attached to every call.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { clientTlsCredentials, createClient, fetchPinnedCa, RunService } from "@dockyard/proto";
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
export async function serverCredentials(config: ClientConfig, warn: (text: string) => void = () => undefined): Promise<grpc.ChannelCredentials> {
  const t = config.trust;
  if (t.kind === "insecure") {
    warn(`warning: plaintext connection to ${config.server} (--insecure): the API token and logs cross the network unencrypted\n`);
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
    try {
      return clientTlsCredentials(await fetchPinnedCa(config.server, t.fingerprint, CALL_TIMEOUT_MS));
    } catch (err) {
      throw new CliError((err as Error).message, 1, { cause: err });
    }
  }
  throw new CliError("no way to verify the server: pass --ca FILE (the server's <data-dir>/pki/ca.crt; env DOCKYARD_CA_FILE), " +
    "--ca-fingerprint HEX (env DOCKYARD_CA_FINGERPRINT), or --insecure for a server started with DOCKYARD_INSECURE");
}

function dial(config: ClientConfig, credentials: grpc.ChannelCredentials) {
  return createClient(RunService, config.server, {
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

/** Dials `config.server` (verifying it, see serverCredentials); nothing is sent until the first call. Close it when done. */
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
  try {
    return await fn(client);
  } catch (err) {
    throw describeError(err, { server: config.server, ...ctx });
  } finally {
    client.close();
  }
}

/** What WatchRun is asked for. */
export interface WatchRequest {
  runId: string;
  follow: boolean;
  /** Stage name filter; "" for all stages. */
  stage: string;
}

/** Opens WatchRun from `afterSeq` as an EventStream for followRun. */
export function openWatch(client: RunClient, req: WatchRequest, afterSeq: bigint, onConnected: () => void): EventStream {
  const call = client.watchRun({ runId: req.runId, afterSeq, follow: req.follow, stage: req.stage });
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
