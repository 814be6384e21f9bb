// The `dockyard` binary and the HTTP API as a user calls them, for the honest-status tests
// (status.test.ts, status-cancel.test.ts): the CLI's exit code and output (Node's own
// warnings left out), and an API call with the farm's API token. Unlike dockyardCli
// (cli-process.ts), dockyard() takes a working directory and filters Node's warnings.
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT, type Farm } from "./farm";
import type { CliResult } from "./cli-process";

const BIN = path.join(REPO_ROOT, "cli/bin/dockyard");

/** Runs `dockyard ARGS` against the farm (its address, API token and CA) to its end; cwd: a temp dir unless given. */
export function dockyard(farm: Farm, args: string[], opts: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, {
      cwd: opts.cwd ?? os.tmpdir(),
      env: {
        ...process.env,
        DOCKYARD_SERVER: farm.server.grpcAddress,
        DOCKYARD_TOKEN: farm.apiToken,
        DOCKYARD_CA_FILE: farm.caFile,
        NO_COLOR: "1",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr: withoutNodeWarnings(stderr) }));
  });
}

/** Node's own process warnings (a deprecation in the TLS stack) are not the CLI's output. */
function withoutNodeWarnings(stderr: string): string {
  return stderr.replace(/^\(node:\d+\) \[?\w*\]? ?\w*Warning: .*\n(\(Use `node --trace-.*\n)?/gm, "");
}

/** The HTTP API with the farm's API token. */
export async function http(
  farm: Farm,
  method: string,
  route: string,
  body?: string,
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${farm.server.httpUrl}/api/v1${route}`, {
    method,
    body,
    headers: { authorization: `Bearer ${farm.apiToken}` },
  });
  return { status: res.status, json: await res.json() };
}
