// `dockyard rerun RUN [--failed]`: start a finished run again as a new run (RerunRun).
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { RUN_ARG } from "../args";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { CliError } from "../errors";
import { colorState } from "../watch/status-format";
import { runJson, toJsonText } from "../json";

/** Registers `rerun`. */
export function registerRerunCommand(program: Command, cli: CliContext): void {
  program
    .command("rerun")
    .description(
      "start a finished run again as a new run (same file, source and commit); prints the new run and its stages",
    )
    .argument("<run>", RUN_ARG)
    .option("--failed", "only the stages that did not succeed, and what needs them; the others keep their outputs")
    .option("--json", "print the new run as JSON")
    .action(async (runId: string, opts: { failed?: boolean; json?: boolean }, cmd: Command) => {
      const run = await withClient(
        cli.clientConfig(cmd),
        async (client) =>
          (await client.rerunRun({ runId, failedOnly: opts.failed === true }, { timeoutMs: CALL_TIMEOUT_MS })).run,
        { notFound: `run not found: ${runId}`, preferServerNotFound: true },
      );
      if (!run) throw new CliError(`the server returned no run for ${runId}`);
      if (opts.json) {
        cli.out.write(toJsonText(runJson(run)));
        return;
      }
      cli.out.write(`run ${run.id} ${colorState(run.state, cli.colors)} (re-run of ${runId})\n`);
      for (const s of run.stages) {
        const kept = s.reason.startsWith("reused from run") ? "  kept: " + s.reason : "";
        cli.out.write(`  ${s.name}  ${colorState(s.state, cli.colors)}${kept}\n`);
      }
    });
}
