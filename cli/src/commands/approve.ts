// `dockyard approve RUN STAGE [--comment TEXT]` and `dockyard reject ...`: decide an
// approval stage as the user of the CLI's API token. Prints the decision and the stage's
// resulting state; the server refuses a user who is not a listed approver, naming who may.
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { RUN_ARG } from "../args";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { CliError } from "../errors";
import { colorState } from "../watch/status-format";

/** Longest comment (the server's limit too). */
const MAX_COMMENT = 1000;

/** Registers `approve` and `reject`. */
export function registerApprovalCommands(program: Command, cli: CliContext): void {
  for (const approve of [true, false]) {
    const verb = approve ? "approve" : "reject";
    program
      .command(verb)
      .description(
        `${verb} an approval stage that waits for a decision (only its listed approvers may); prints the stage's resulting state`,
      )
      .argument("<run>", RUN_ARG)
      .argument("<stage>", "the approval stage's name")
      .option("-m, --comment <text>", "why (recorded and shown with the decision)", "")
      .action(async (runId: string, stage: string, opts: { comment: string }, cmd: Command) => {
        if (opts.comment.length > MAX_COMMENT)
          throw new CliError(`--comment is ${opts.comment.length} characters; the limit is ${MAX_COMMENT}`);
        const run = await withClient(
          cli.clientConfig(cmd),
          async (client) =>
            (
              await client.decideApproval(
                { runId, stage, approve, comment: opts.comment },
                { timeoutMs: CALL_TIMEOUT_MS },
              )
            ).run,
          { notFound: `run or stage not found: ${runId} ${stage}`, preferServerNotFound: true },
        );
        if (!run) throw new CliError(`the server returned no run for ${runId}`);
        const s = run.stages.find((x) => x.name === stage);
        cli.out.write(
          `stage ${stage} of run ${run.id} ${colorState(s?.state ?? "unknown", cli.colors)}${s?.reason ? ` (${s.reason})` : ""}\n`,
        );
      });
  }
}
