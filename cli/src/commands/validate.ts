// `dockyard validate FILE`: local validation with @dockyard/pipeline.
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { CliError } from "../errors";
import { defaultPipelineName, problemsText, readPipelineFile } from "../pipeline-file";
import { checkServiceFiles } from "../service-files";

/** Registers `validate`. */
export function registerValidate(program: Command, cli: CliContext): void {
  program
    .command("validate")
    .description(
      'check a pipeline file (and the service files its update-service stages name) locally; prints every problem, or "FILE: ok (N stages)"',
    )
    .argument("<file>", "pipeline file (dockyard.yml)")
    .action(async (file: string) => {
      const bytes = await readPipelineFile(file);
      // Loaded here so other commands do not pay for the YAML parser.
      const { parsePipeline, formatProblems, formatServiceProblems } = await import("@dockyard/pipeline");
      // Like `run`: a file without `name:` is named after its directory.
      const result = parsePipeline(bytes, { defaultName: defaultPipelineName(file) ?? undefined });
      if (!result.ok) {
        throw new CliError(problemsText(formatProblems(result.problems, file)), 1, { verbatim: true });
      }
      const services = await checkServiceFiles(file, result.pipeline);
      if (services.problems.length > 0) {
        throw new CliError(problemsText(formatServiceProblems(services.problems)), 1, { verbatim: true });
      }
      const n = result.pipeline.stages.length;
      const s = services.checked;
      const serviceNote = s === 0 ? "" : `, ${s} service ${s === 1 ? "file" : "files"}`;
      cli.out.write(`${file}: ok (${n} ${n === 1 ? "stage" : "stages"}${serviceNote})\n`);
    });
}
