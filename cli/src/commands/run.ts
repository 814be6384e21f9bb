// `dockyard run FILE` and `dockyard watch RUN`.
import { basename } from "node:path";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { CliError, UsageError, isGrpcError } from "../errors";
import { runJson, toJsonText } from "../json";
import { defaultPipelineName, readPipelineFile, serverProblemsText } from "../pipeline-file";
import { parseAttempt, RUN_ARG } from "../args";
import { streamRun } from "./live";
import { sourceUpload } from "../source-upload";

/** Registers `run` and `watch`. */
export function registerRunCommands(program: Command, cli: CliContext): void {
  program
    .command("run")
    .description("submit a pipeline file; prints the run id, or follows the run with --watch")
    .argument("<file>", "pipeline file (dockyard.yml), at most 1 MiB")
    .option("-w, --watch", "show live status and logs until the run ends; exit code mirrors the result")
    .option("--json", "print the run as JSON (with --watch: one JSON event per line)")
    .action(async (file: string, opts: { watch?: boolean; json?: boolean }, cmd: Command) => {
      const config = cli.clientConfig(cmd);
      const pipelineYaml = await readPipelineFile(file);
      // A file without `name:` is named after its directory (the server checks the name).
      const defaultName = defaultPipelineName(file) ?? "";
      const upload = await sourceUpload(file, pipelineYaml);
      const run = await withClient(config, async (client) => {
        try {
          const res = await client.submitRun(
            { pipelineYaml, source: `cli:${basename(file)}`, defaultName, ...upload },
            { timeoutMs: CALL_TIMEOUT_MS },
          );
          return res.run;
        } catch (err) {
          if (isGrpcError(err) && err.code === GrpcStatus.INVALID_ARGUMENT) {
            throw new CliError(serverProblemsText(err.details), 1, { cause: err, verbatim: true });
          }
          throw err;
        }
      });
      if (!run) throw new CliError("the server accepted the run but returned no run");
      if (opts.watch) {
        if (!opts.json)
          cli.out.write(
            `${cli.colors.bold(`run ${run.id}`)} submitted (${run.name || basename(file)}, ${run.stages.length} stages)\n`,
          );
        cli.exitCode = await streamRun(cli, config, {
          runId: run.id,
          mode: opts.json ? "json" : "live",
          follow: true,
          stage: "",
        });
        return;
      }
      if (opts.json) {
        cli.out.write(toJsonText(runJson(run)));
        return;
      }
      cli.out.write(`${run.id}\n`);
      cli.err.write(
        `submitted run ${run.id}; follow it with: dockyard watch ${run.id}   (logs: dockyard logs ${run.id})\n`,
      );
    });

  program
    .command("watch")
    .description("show live status and logs of a run until it ends; exit code mirrors the result")
    .argument("<run>", RUN_ARG)
    .option("--json", "one JSON event per line instead of the live view")
    .action(async (runId: string, opts: { json?: boolean }, cmd: Command) => {
      cli.exitCode = await streamRun(cli, cli.clientConfig(cmd), {
        runId,
        mode: opts.json ? "json" : "live",
        follow: true,
        stage: "",
      });
    });

  program
    .command("logs")
    .description(
      "print a run's logs: lines prefixed [stage] ([stage]! for stderr), or one stage's raw output; " +
        "a line `==> stage: attempt N (after attempt N-1 was lost) <==` marks where a retry's output starts",
    )
    .argument("<run>", RUN_ARG)
    .argument("[stage]", "only this stage (by name); output is its raw bytes")
    .option("-f, --follow", "keep printing new output until the run ends")
    .option("--attempt <n>", "only this attempt of STAGE (1, 2, ...)", parseAttempt)
    .action(
      async (runId: string, stage: string | undefined, opts: { follow?: boolean; attempt?: number }, cmd: Command) => {
        if (opts.attempt !== undefined && !stage)
          throw new UsageError("--attempt needs a STAGE: dockyard logs RUN STAGE --attempt N");
        cli.exitCode = await streamRun(cli, cli.clientConfig(cmd), {
          runId,
          mode: stage ? "raw" : "logs",
          follow: opts.follow === true,
          stage: stage ?? "",
          attempt: opts.attempt,
        });
      },
    );
}
