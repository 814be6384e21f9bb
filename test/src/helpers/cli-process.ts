// The `dockyard` CLI binary run against a farm, a project directory from a map of
// files, and its upload tar (what `dockyard run` sends with the pipeline).
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { tempDir } from "@dockyard/testkit";
import os from "node:os";
import path from "node:path";
import { packContext } from "@dockyard/agent";
import { REPO_ROOT, type Farm } from "./farm";

const BIN = path.join(REPO_ROOT, "cli/bin/dockyard");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts `dockyard ARGS` against the farm (its address, API token and CA; `env` overrides, e.g. another
 * DOCKYARD_TOKEN); `out()` is its stdout so far.
 */
export function dockyardProcess(
  farm: Farm,
  args: string[],
  stdin?: string,
  env: Record<string, string> = {},
): { done: Promise<CliResult>; out: () => string } {
  const child = spawn(BIN, args, {
    cwd: os.tmpdir(),
    env: {
      ...process.env,
      DOCKYARD_SERVER: farm.server.grpcAddress,
      DOCKYARD_TOKEN: farm.apiToken,
      DOCKYARD_CA_FILE: farm.caFile,
      NO_COLOR: "1",
      ...env,
    },
  });
  if (stdin !== undefined) child.stdin.end(stdin);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return { done, out: () => stdout };
}

/** Runs `dockyard ARGS` against the farm to its end (`stdin`: written to it, then closed; `env`: overrides). */
export function dockyardCli(
  farm: Farm,
  args: string[],
  stdin?: string,
  env: Record<string, string> = {},
): Promise<CliResult> {
  return dockyardProcess(farm, args, stdin, env).done;
}

/** A temp directory holding `files` (name -> text, subdirectories created); removed when the test file ends. */
export function projectDir(files: Record<string, string>, name = "project"): string {
  const dir = tempDir(name);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** The directory as the CLI uploads it (.dockerignore honoured). */
export async function sourceTarOf(dir: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of packContext(dir)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
