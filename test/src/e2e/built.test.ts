// The build in dist/ (scripts/build.ts), as users run it: `node dist/dockyard.js server`,
// `... agent` (shell executor) and the client commands, as separate processes over real
// Postgres, NATS and gRPC. The other e2e tests run the sources with tsx; this one shows that
// the bundles find what they read at run time (migrations/, the spawner's and supervisor's
// .mjs files) and load the server and agent from the same build.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "../helpers/database";
import { freePort, NATS_URL, REPO_ROOT } from "../helpers/farm";
import { waitFor } from "../helpers/wait";
import { tempDir } from "@dockyard/testkit";

const DIST_CLI = path.join(REPO_ROOT, "dist/dockyard.js");
const run = promisify(execFile);

let tmp: string;
let database: TestDatabase | undefined;
const children: ChildProcess[] = [];
let env: Record<string, string>;
let httpPort: number;

/** Starts `node dist/dockyard.js ARGS` with its output in TMP/NAME.log. */
function startBuilt(name: string, args: string[], extraEnv: Record<string, string>): ChildProcess {
  const out = openSync(path.join(tmp, `${name}.log`), "a");
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env.DATABASE_URL; // only what the flags say
  const child = spawn(process.execPath, [DIST_CLI, ...args], { env, stdio: ["ignore", out, out] });
  children.push(child);
  return child;
}

/** Waits for `check`; a failure carries the last lines of TMP/NAME.log (the process's output). */
async function waitWithLog(
  name: string,
  check: () => Promise<boolean>,
  message: string,
  timeoutMs = 30_000,
): Promise<void> {
  try {
    await waitFor(check, { message, timeoutMs });
  } catch (err) {
    const log = readFileSync(path.join(tmp, `${name}.log`), "utf8")
      .split("\n")
      .slice(-20)
      .join("\n");
    throw new Error(`${(err as Error).message}; ${name}.log ends:\n${log}`, { cause: err });
  }
}

/** `node dist/dockyard.js ARGS` as a client, to its end. */
async function cli(args: string[], cwd = tmp): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [DIST_CLI, ...args], {
      cwd,
      env: { ...process.env, ...env, NO_COLOR: "1" },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

before(async () => {
  // What `npm test` does first (scripts/test.sh); fast when dist/ is up to date.
  execFileSync("bash", ["-c", ". scripts/lib.sh && ensure_build"], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  tmp = tempDir("built");
  database = await createTestDatabase();
  const grpcPort = await freePort();
  httpPort = await freePort();
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const joinToken = `dyj_test_${randomBytes(12).toString("hex")}`;
  const apiToken = `dya_test_${randomBytes(12).toString("hex")}`;
  const dataDir = path.join(tmp, "server");
  const timings = {
    DOCKYARD_HEARTBEAT_INTERVAL_MS: "300",
    DOCKYARD_AGENT_POLL_INTERVAL_MS: "1000",
    DOCKYARD_NATS_PREFIX: prefix,
  };
  startBuilt(
    "server",
    [
      "server",
      "--grpc-listen",
      `127.0.0.1:${grpcPort}`,
      "--http-listen",
      `127.0.0.1:${httpPort}`,
      "--nats",
      NATS_URL,
    ].concat(["--database-url", database.url, "--data-dir", dataDir]),
    { ...timings, DOCKYARD_JOIN_TOKEN: joinToken, DOCKYARD_API_TOKEN: apiToken, DOCKYARD_LOG_LEVEL: "info" },
  );
  await waitWithLog(
    "server",
    async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok,
    "the built server to answer /readyz",
  );
  const caFile = path.join(dataDir, "pki", "ca.crt");
  env = { DOCKYARD_SERVER: `127.0.0.1:${grpcPort}`, DOCKYARD_TOKEN: apiToken, DOCKYARD_CA_FILE: caFile };
  startBuilt(
    "agent",
    [
      "agent",
      "--server",
      `127.0.0.1:${grpcPort}`,
      "--nats",
      NATS_URL,
      "--name",
      "built-a",
      "--executor",
      "shell",
    ].concat(["--state-dir", path.join(tmp, "agent")]),
    { ...timings, DOCKYARD_JOIN_TOKEN: joinToken, DOCKYARD_CA_FILE: caFile, DOCKYARD_LOG_LEVEL: "info" },
  );
  await waitWithLog(
    "agent",
    async () => (await cli(["agents", "--json"])).stdout.includes('"online"'),
    "the built agent to be online",
  );
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(
    children.map((c) =>
      c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)),
    ),
  );
  await database?.drop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("the built CLI prints the CLI package's version and the commit, and the bin runs the build", async () => {
  const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, "cli/package.json"), "utf8")) as { version: string };
  assert.match(version, /^\d+\.\d+\.\d+/);
  const commit = execFileSync("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const expected = `dockyard ${version} (${commit})\n`;
  assert.equal((await cli(["--version"])).stdout, expected);
  // The program's own --version (commander) says the same as main.ts's early answer.
  assert.equal((await cli(["--server", "127.0.0.1:1", "--version"])).stdout, expected);
  assert.equal((await run(path.join(REPO_ROOT, "cli/bin/dockyard"), ["--version"])).stdout, expected);
});

test("a run submitted by the built CLI runs on the built agent and server", async () => {
  writeFileSync(
    path.join(tmp, "dockyard.yml"),
    "name: built\nstages:\n  hello: { executor: shell, command: 'echo built-$((6 * 7))' }\n",
  );
  const submitted = await cli(["run", "dockyard.yml", "--watch"]);
  assert.equal(submitted.code, 0, `run --watch failed: ${submitted.stderr}`);
  assert.match(submitted.stdout, /built-42/);
  const runs = await cli(["runs", "--json"]);
  assert.equal(runs.code, 0, runs.stderr);
  const listed = JSON.parse(runs.stdout) as { pipeline?: string; name?: string; state: string }[];
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.state, "succeeded");
  // The agent's supervisor (supervisor.mjs, found next to its source) started and stayed up.
  const agentLog = readFileSync(path.join(tmp, "agent.log"), "utf8");
  assert.doesNotMatch(agentLog, /supervisor (failed to start|exited)/);
  assert.match(agentLog, /"level":30/, "the agent logged (positive control for the check above)");
});

test("the built server keeps its state in PGlite (loaded from node_modules) without a database URL", async () => {
  const grpcPort = await freePort();
  const pgliteHttp = await freePort();
  const dataDir = path.join(tmp, "server-pglite");
  startBuilt(
    "server-pglite",
    [
      "server",
      "--grpc-listen",
      `127.0.0.1:${grpcPort}`,
      "--http-listen",
      `127.0.0.1:${pgliteHttp}`,
      "--data-dir",
      dataDir,
    ],
    {
      DOCKYARD_NATS_URL: NATS_URL,
      DOCKYARD_NATS_PREFIX: `t${randomBytes(4).toString("hex")}`,
      DOCKYARD_LOG_LEVEL: "info",
    },
  );
  // PGlite starts slowly (4-5 s idle, several times that on a busy machine).
  const ready = async () => (await fetch(`http://127.0.0.1:${pgliteHttp}/readyz`)).ok;
  await waitWithLog("server-pglite", ready, "the built PGlite server to answer /readyz", 90_000);
  assert.match(readFileSync(path.join(tmp, "server-pglite.log"), "utf8"), /"database":"pglite"/);
  const token = readFileSync(path.join(dataDir, "api-token"), "utf8").trim();
  const env = {
    DOCKYARD_SERVER: `127.0.0.1:${grpcPort}`,
    DOCKYARD_TOKEN: token,
    DOCKYARD_CA_FILE: path.join(dataDir, "pki", "ca.crt"),
  };
  const runs = await run(process.execPath, [DIST_CLI, "runs", "--json"], { env: { ...process.env, ...env } });
  assert.deepEqual(JSON.parse(runs.stdout), []);
});
