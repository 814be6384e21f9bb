// npm run bench -- cli
// How long a `dockyard` call takes from the shell, as scripts use it: hyperfine (Debian's
// package; scripts/bench.sh installs it) runs cli/bin/dockyard (the build in dist/, which
// bench.sh brings up to date) 20 times after 3 warm-ups, without a shell in between, for
//  - `dockyard --version`: process start and nothing else;
//  - `dockyard runs`: start, one gRPC call to a running server (a test farm in this process,
//    holding 20 queued runs), the table;
//  - `node -e 0`: Node's own start on this machine at this moment, the floor of the two above
//    (our machines are shared: read the CLI's figures against it).
// Prints hyperfine's summary, then one JSON line last with the min and median of each, and
// its mean CPU time.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startFarm, REPO_ROOT } from "@dockyard/test";

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const BIN = path.join(REPO_ROOT, "cli/bin/dockyard");

interface HyperfineResult {
  command: string;
  times: number[];
  min: number;
  median: number;
  user: number;
  system: number;
}

const ms = (s: number) => Math.round(s * 10_000) / 10;

async function main() {
  const farm = await startFarm();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "dockyard-bench-cli-"));
  try {
    const pipeline = Buffer.from("name: listed\nstages:\n  a: { executor: shell, command: 'true' }\n");
    for (let i = 0; i < 20; i++) await farm.client.submitRun({ pipelineYaml: pipeline, source: "bench" });
    const env = {
      ...process.env,
      DOCKYARD_SERVER: farm.server.grpcAddress,
      DOCKYARD_TOKEN: farm.apiToken,
      DOCKYARD_CA_FILE: farm.caFile,
      NO_COLOR: "1",
    };
    // The CLI works (and lists the runs) before it is timed.
    const { stdout } = await promisify(execFile)(BIN, ["runs"], { env });
    if ((stdout.match(/listed/g) ?? []).length !== 20)
      throw new Error(`dockyard runs did not list the 20 runs:\n${stdout}`);
    const out = path.join(tmp, "hyperfine.json");
    const args = [
      "-N",
      "--warmup",
      "3",
      "--runs",
      String(RUNS),
      "--export-json",
      out,
      `${BIN} --version`,
      `${BIN} runs`,
      "node -e 0",
    ];
    const hf = await promisify(execFile)("hyperfine", args, { env });
    process.stderr.write(hf.stdout);
    const { results } = JSON.parse(readFileSync(out, "utf8")) as { results: HyperfineResult[] };
    const [version, runs, node] = results as [HyperfineResult, HyperfineResult, HyperfineResult];
    console.log(
      JSON.stringify({
        bench: "cli",
        runs: RUNS,
        version_min_ms: ms(version.min),
        version_median_ms: ms(version.median),
        runs_min_ms: ms(runs.min),
        runs_median_ms: ms(runs.median),
        node_min_ms: ms(node.min),
        node_median_ms: ms(node.median),
        // CPU time (user + system, mean): what the load of a shared machine inflates least.
        version_cpu_ms: ms(version.user + version.system),
        runs_cpu_ms: ms(runs.user + runs.system),
        node_cpu_ms: ms(node.user + node.system),
      }),
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    await farm.stop();
  }
}

await main();
