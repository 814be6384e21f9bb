// `dockyard artifacts RUN [STAGE]`: the files a run's stages stored (a failed journey's
// screenshot, a command stage's $DOCKYARD_ARTIFACTS); `dockyard artifacts get ID [-o FILE]`
// writes one's bytes to FILE (or stdout). RUN is named as everywhere: id, prefix, PIPELINE#N.
import { writeFile } from "node:fs/promises";
import type { Artifact } from "@dockyard/proto";
import type { ArtifactView } from "@dockyard/web";
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { CliError, UsageError } from "../errors";
import { renderTable } from "../format/table";
import { localDateTime } from "../format/time";
import { toJsonText } from "../json";

/** An artifact is up to 10 MiB: more time than a listing. */
const GET_TIMEOUT_MS = 120_000;

/** The HTTP API's ArtifactView, from the wire message. */
export function artifactJson(a: Artifact): ArtifactView {
  return {
    id: a.id,
    runId: a.runId,
    stage: a.stage,
    attempt: a.attemptNumber,
    name: a.name,
    contentType: a.contentType,
    size: Number(a.size),
    sha256: a.sha256,
    createdAt: new Date(Number(a.createdAtMs)).toISOString(),
  };
}

export function artifactsTable(list: ArtifactView[]): string {
  if (list.length === 0) return "no artifacts\n";
  const rows = list.map((a) => [
    a.id,
    a.stage,
    String(a.attempt),
    a.name,
    String(a.size),
    a.contentType,
    localDateTime(Date.parse(a.createdAt)),
  ]);
  return renderTable(["ID", "STAGE", "ATTEMPT", "NAME", "BYTES", "TYPE", "CREATED"], rows);
}

export function registerArtifactCommands(program: Command, cli: CliContext): void {
  const artifacts = program
    .command("artifacts")
    .description(
      "list the files a run's stages stored (screenshots, $DOCKYARD_ARTIFACTS); `artifacts get ID` fetches one",
    )
    .argument("<run>", "run id, unique id prefix, or PIPELINE#NUMBER")
    .argument("[stage]", "only this stage's artifacts")
    .option("--json", "print a JSON array of artifacts")
    .action(async (run: string, stage: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const list = await withClient(
        cli.clientConfig(cmd),
        async (client) =>
          (
            await client.listArtifacts({ runId: run, stage: stage ?? "" }, { timeoutMs: CALL_TIMEOUT_MS })
          ).artifacts.map(artifactJson),
        { notFound: `run not found: ${run}`, preferServerNotFound: true },
      );
      cli.out.write(opts.json ? toJsonText(list) : artifactsTable(list));
    });

  artifacts
    .command("get")
    .description("write an artifact's bytes to FILE (-o) or to stdout")
    .argument("<id>", "the artifact id (from `dockyard artifacts RUN`)")
    .option("-o, --output <file>", "write to this file instead of stdout")
    .action(async (id: string, opts: { output?: string }, cmd: Command) => {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id))
        throw new UsageError(
          `invalid artifact id '${id.slice(0, 64)}': expected a UUID (from \`dockyard artifacts RUN\`)`,
        );
      const { data } = await withClient(
        cli.clientConfig(cmd),
        (client) => client.getArtifact({ id }, { timeoutMs: GET_TIMEOUT_MS }),
        { notFound: `artifact not found: ${id}`, preferServerNotFound: true },
      );
      if (opts.output === undefined) return void cli.out.write(data);
      try {
        await writeFile(opts.output, data);
      } catch (err) {
        throw new CliError(`cannot write ${opts.output}: ${(err as Error).message}`, undefined, { cause: err });
      }
    });
}
