// The gRPC client for RunService, with the API token attached to every call.
import * as grpc from "@grpc/grpc-js";
import { createClient, RunService } from "@dockyard/proto";
import type { RunEvent } from "@dockyard/proto";
import type { ClientConfig } from "./config";
import { describeError, isGrpcError } from "./errors";
import type { ErrorContext } from "./errors";
import type { EventStream } from "./watch/follow";

/** Deadline for unary calls. */
export const CALL_TIMEOUT_MS = 10_000;

function dial(config: ClientConfig) {
  return createClient(RunService, config.server, {
    metadata: () => {
      const md = new grpc.Metadata();
      if (config.token) md.set("authorization", `Bearer ${config.token}`);
      return md;
    },
  });
}

/** A typed RunService client. */
export type RunClient = ReturnType<typeof dial>;

/** Dials `config.server`; nothing is sent until the first call. Close it when done. */
export function connect(config: ClientConfig): RunClient {
  return dial(config);
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
  const client = connect(config);
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
