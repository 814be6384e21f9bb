// `dockyard repos add|list|rm`: git repositories whose pushes start their pipeline. GitHub or
// GitLab sends push events to POST /hooks/v1/git/NAME, signed with (GitHub) or carrying
// (GitLab) the secret `add` prints once: the server keeps it sealed and never shows it again.
import type { Command } from "commander";
import type { RepoInfo } from "@dockyard/proto";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { UsageError } from "../errors";
import { renderTable } from "../format/table";
import { isoOrNull, localDateTime } from "../format/time";
import { toJsonText } from "../json";

export interface RepoJson {
  name: string;
  url: string;
  pipeline: string;
  /** null = every branch. */
  branch: string | null;
  createdAt: string | null;
}

export function registerRepoCommands(program: Command, cli: CliContext): void {
  const repos = program
    .command("repos")
    .description("git repositories whose pushes start their pipeline (POST /hooks/v1/git/NAME, GitHub or GitLab)");
  repos
    .command("add")
    .description("register a repository; prints the webhook URL path and its secret once")
    .argument("<name>", "repository name: 1-40 of A-Z a-z 0-9 . _ -")
    .option("--git <url>", "clone URL (file://, http:// or https://): the server reads the pipeline file from it")
    .option("--pipeline <path>", "the pipeline file's path inside the repository (e.g. dockyard.yml)")
    .option(
      "--branch <glob>",
      "only pushes of matching branches start a run (main, release/*, feature/**; comma-separated)",
    )
    .action(async (name: string, opts: { git?: string; pipeline?: string; branch?: string }, cmd: Command) => {
      if (!opts.git) throw new UsageError("repos add needs --git URL: the repository's clone URL");
      if (!opts.pipeline)
        throw new UsageError("repos add needs --pipeline PATH: the pipeline file's path inside the repository");
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.addRepo(
          { name, url: opts.git!, pipeline: opts.pipeline!, branch: opts.branch ?? "" },
          { timeoutMs: CALL_TIMEOUT_MS },
        ),
      );
      cli.out.write(
        `added repository ${name}: pushes${opts.branch ? ` of ${opts.branch}` : ""} start ${opts.pipeline}\n` +
          `webhook: POST /hooks/v1/git/${name} on the server's HTTP address (GitHub: content type application/json, push events; GitLab: Push events)\n` +
          `secret (shown once; GitHub: Secret, GitLab: Secret token): ${res.secret}\n`,
      );
    });
  repos
    .command("list")
    .description("list repositories: name, URL (without credentials), pipeline file, branches (never their secrets)")
    .option("--json", "print a JSON array of repositories")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = (
        await withClient(cli.clientConfig(cmd), (client) => client.listRepos({}, { timeoutMs: CALL_TIMEOUT_MS }))
      ).repos;
      cli.out.write(opts.json ? toJsonText(list.map(repoJson)) : reposTable(list, cli.colors.bold));
    });
  repos
    .command("rm")
    .description("remove a repository and its secret: its pushes are refused from then on")
    .argument("<name>", "repository name")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withClient(cli.clientConfig(cmd), (client) => client.removeRepo({ name }, { timeoutMs: CALL_TIMEOUT_MS }), {
        notFound: `repository not found: ${name}`,
      });
      cli.out.write(`removed repository ${name}\n`);
    });
}

function repoJson(r: RepoInfo): RepoJson {
  return {
    name: r.name,
    url: r.url,
    pipeline: r.pipeline,
    branch: r.branch || null,
    createdAt: isoOrNull(r.createdAtMs),
  };
}

function reposTable(list: RepoInfo[], bold: (s: string) => string): string {
  if (list.length === 0) return "no repositories\n";
  return renderTable(
    ["NAME", "URL", "PIPELINE", "BRANCHES", "CREATED"],
    list.map((r) => [r.name, r.url, r.pipeline, r.branch || "*", localDateTime(Number(r.createdAtMs))]),
    { header: bold },
  );
}
