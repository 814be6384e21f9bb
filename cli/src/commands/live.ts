// The live view shared by `run --watch` and `watch`, and the log reader of `logs`.
import { CALL_TIMEOUT_MS, connect, openWatch } from "../client";
import type { CliContext } from "../cli-context";
import type { ClientConfig } from "../config";
import { describeError, exitCodeForState, isTerminalState } from "../errors";
import { formatOutputs } from "../watch/outputs-format";
import type { Stage } from "@dockyard/proto";
import { runEventJson } from "../json";
import { followRun } from "../watch/follow";
import type { FollowResult } from "../watch/follow";
import { RunRenderer } from "../watch/renderer";
import type { RenderMode } from "../watch/renderer";

/** What `streamRun` shows. */
export interface StreamOptions {
  runId: string;
  mode: RenderMode | "json";
  follow: boolean;
  /** Stage name filter; "" for all. */
  stage: string;
  /** With `stage`: only this attempt (no boundaries then); 0 or unset for all. */
  attempt?: number;
}

/**
 * Streams a run's events to `cli.out` until it ends (or, without follow, until
 * history is exhausted), reconnecting on connection failures. Returns the exit
 * code: with follow, it mirrors the run's result; 130 after Ctrl-C; otherwise 0.
 * Throws CliError for refused or failed calls.
 */
export async function streamRun(cli: CliContext, config: ClientConfig, options: StreamOptions): Promise<number> {
  const client = await connect(config, (t) => cli.err.write(t));
  const renderer = new RunRenderer({
    write: (chunk) => cli.out.write(chunk),
    mode: options.mode === "json" ? "live" : options.mode,
    colors: cli.colors,
    boundaries: !options.attempt,
  });
  const request = { runId: options.runId, follow: options.follow, stage: options.stage, attempt: options.attempt ?? 0 };
  // The run may be named by a prefix or PIPELINE#NUMBER: its events carry the full id, which reconnects and
  // messages then use (a prefix could match a newer run by the time the stream is reopened).
  const runIdOf = (ev: { runId: string }) => {
    if (ev.runId) request.runId = ev.runId;
  };
  try {
    let result: FollowResult;
    try {
      result = await followRun({
        open: (afterSeq, onConnected) => openWatch(client, request, afterSeq, onConnected),
        onEvent: (ev) => {
          runIdOf(ev);
          if (options.mode === "json") cli.out.write(`${JSON.stringify(runEventJson(ev))}\n`);
          else renderer.handle(ev);
        },
        onRetry: ({ attempt, delayMs, afterSeq }) => {
          // First try, then every fifth, so a long outage does not flood the terminal.
          if (attempt !== 1 && attempt % 5 !== 0) return;
          cli.err.write(
            `connection to ${config.server} lost; reconnecting in ${(delayMs / 1000).toFixed(1)}s (try ${attempt}, resuming after event ${afterSeq})\n`,
          );
        },
        signal: cli.interruptSignal(),
        server: config.server,
      });
    } finally {
      if (options.mode !== "json") renderer.end();
    }
    if (result.aborted) {
      cli.err.write(`stopped watching run ${request.runId}; it continues on the server\n`);
      return 130;
    }
    if (!options.follow || options.mode === "logs" || options.mode === "raw") return 0;
    if (result.finalState) {
      if (options.mode === "live") await printOutputs(cli, client, request.runId);
      return exitCodeForState(result.finalState);
    }
    // The stream ended without the run's final event: ask for the state.
    const run = (await client.getRun({ runId: request.runId }, { timeoutMs: CALL_TIMEOUT_MS })).run;
    const state = run?.state ?? "unknown";
    if (!isTerminalState(state)) {
      cli.err.write(
        `the server ended the stream while run ${request.runId} is ${state}; continue with: dockyard watch ${request.runId}\n`,
      );
      return 1;
    }
    const created = Number(run?.createdAtMs ?? 0n);
    const finished = Number(run?.finishedAtMs ?? 0n);
    if (options.mode !== "json")
      renderer.summary(request.runId, state, created > 0 && finished > 0 ? finished - created : null);
    if (options.mode === "live" && run)
      for (const line of formatOutputs(run.stages, cli.colors)) cli.out.write(`${line}\n`);
    return exitCodeForState(state);
  } catch (err) {
    // The server's own NOT_FOUND names what is missing (the run, or a stage with the run's stages).
    throw describeError(err, {
      server: config.server,
      notFound: `run not found: ${options.runId}`,
      preferServerNotFound: true,
    });
  } finally {
    client.close();
  }
}

/** After a watched run ended: its stages' outputs (best effort: the run's end was already shown). */
async function printOutputs(
  cli: CliContext,
  client: { getRun: (req: { runId: string }, opts: { timeoutMs: number }) => Promise<{ run?: { stages: Stage[] } }> },
  runId: string,
): Promise<void> {
  try {
    const { run } = await client.getRun({ runId }, { timeoutMs: CALL_TIMEOUT_MS });
    for (const line of formatOutputs(run?.stages ?? [], cli.colors)) cli.out.write(`${line}\n`);
  } catch {
    // The outputs are also in `dockyard runs --json`; a failed read here changes nothing.
  }
}
