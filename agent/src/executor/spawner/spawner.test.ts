// The shell spawner beyond the executor contract: what a stage's shell can see, where its
// script goes, and what happens when the helper process dies.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { collect } from "../contract.js";
import { isExecutorError } from "../errors.js";
import { ShellExecutor, shellQuote, stageScript } from "../shell.js";
import type { AttemptSpec } from "../types.js";

let n = 0;
const spec = (commands: string[], env: Record<string, string> = {}): AttemptSpec => ({
  attemptId: `sp-${process.pid}-${++n}`, runId: "run-1", stageId: "stage-1", stageName: "s", attemptNumber: 1,
  image: null, commands, env, limits: {}, agentId: "agent-1",
});

describe("shell spawner", () => {
  let workDir: string;
  let executor: ShellExecutor;
  const run = async (s: AttemptSpec) => collect(await executor.start(s, new AbortController().signal));

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), "dockyard-spawner-"));
    executor = new ShellExecutor({ workDir });
    executor.warmUp();
  });
  after(async () => {
    await executor.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it("quotes any value as one sh word", async () => {
    const value = `it's "quoted" $HOME \`x\` \\ \n new line; rm -rf /`;
    const r = await run(spec([`printf '%s' "$V"`], { V: value }));
    assert.equal(r.stdout, value);
    assert.equal(shellQuote("a'b"), `'a'\\''b'`);
  });

  it("shows the stage only its own env, PATH and HOME, not the agent's or the spawner's", async () => {
    process.env.DOCKYARD_TEST_AGENT_SECRET = "s3cret";
    const r = await run(spec(["env | sort", 'echo "script=${__dockyard_script-unset}"'], { STAGE_VAR: "x" }));
    delete process.env.DOCKYARD_TEST_AGENT_SECRET;
    assert.doesNotMatch(r.stdout, /s3cret|DOCKYARD_SPAWNER/);
    assert.match(r.stdout, /^STAGE_VAR=x$/m);
    assert.match(r.stdout, /^PATH=/m);
    assert.match(r.stdout, /^script=unset$/m);
  });

  it("gives the stage an empty stdin, not its own script", async () => {
    const r = await run(spec(["cat", "echo after"]));
    assert.equal(r.stdout, "after\n");
  });

  it("removes each script once its shell has exited", async () => {
    await run(spec(["echo SECRET_VALUE_IN_SCRIPT"]));
    const scripts = join(workDir, ".scripts");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(readdirSync(scripts).filter((f) => f.endsWith(".sh")), []);
  });

  it("refuses an env name sh cannot export, before running anything", async () => {
    await assert.rejects(executor.start(spec(["true"], { "A-B": "x" }), new AbortController().signal), (err: unknown) =>
      isExecutorError(err) && err.code === "start_failed" && /A-B/.test(err.message));
    assert.throws(() => stageScript("/tmp", { "1X": "y" }, ["true"]), /not a valid shell variable name/);
  });

  it("starts more stages at once than it keeps shells waiting", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => run(spec([`echo burst-${i}`]))));
    assert.deepEqual(results.map((r) => r.stdout), Array.from({ length: 8 }, (_, i) => `burst-${i}\n`));
  });

  it("leaves stop signals to the agent: a signalled helper still reports its stages' ends", async () => {
    const handle = await executor.start(spec(["sleep 0.3", "echo done"]), new AbortController().signal);
    const helperPid = helperOf(process.pid);
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.kill(helperPid, signal);
    const r = await collect(handle);
    assert.equal(r.stdout, "done\n");
    assert.equal(r.exit.exitCode, 0);
    assert.ok(alive(helperPid));
  });

  it("fails the attempts of a helper that dies, and starts a new helper for the next one", async () => {
    const s = spec(["sleep 30"]);
    const handle = await executor.start(s, new AbortController().signal);
    const helperPid = helperOf(process.pid);
    process.kill(helperPid, "SIGKILL");
    await assert.rejects(collect(handle), (err: unknown) => isExecutorError(err) && err.code === "wait_failed");
    const r = await run(spec(["echo again"]));
    assert.equal(r.stdout, "again\n");
  });
});

function readFileText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

describe("spawner helper on its own", () => {
  it("ends its shells, running ones too, and itself when the agent dies, even mid-handover", async () => {
    const workDir = await mkdtemp(join(tmpdir(), "dockyard-spawner-"));
    // A stand-in agent: starts the helper, runs `sleep 300` in the first shell, reports the
    // pids once a third shell's stdout arrived (its stderr handle is then still in flight,
    // when Node defers the helper's "disconnect"), and is then killed with SIGKILL.
    const agentCode = `
      const { spawn } = require("node:child_process");
      const helper = spawn(process.execPath, [${JSON.stringify(HELPER)}], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        env: { PATH: process.env.PATH, DOCKYARD_SPAWNER_SCRIPT_DIR: ${JSON.stringify(join(workDir, ".scripts"))} },
      });
      const pids = [];
      helper.on("message", (m) => {
        if (m.op === "stderr" && m.id === "1") helper.send({ op: "run", id: "1", script: "sleep 300\\n" });
        if (m.op === "shell") pids.push(m.pid);
        if (m.op === "shell" && pids.length === 3) process.stdout.write(JSON.stringify({ helper: helper.pid, shells: pids }) + "\\n");
      });`;
    const agent = spawn(process.execPath, ["-e", agentCode], { stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve) => agent.stdout.once("data", (d: Buffer) => resolve(d.toString())));
    const { helper, shells } = JSON.parse(line.split("\n")[0]!) as { helper: number; shells: number[] };
    assert.ok([helper, ...shells].every(alive), "helper and shells run");
    await waitUntil(() => inGroup(shells[0]!).length === 2); // shell 1 runs its sleep
    agent.kill("SIGKILL");
    await waitUntil(() => ![helper, ...shells].some(alive));
    assert.deepEqual(inGroup(shells[0]!), [], "the running stage's whole group is gone");
    await rm(workDir, { recursive: true, force: true });
  });

  it("ends its waiting shells when the agent closes it", async () => {
    const workDir = await mkdtemp(join(tmpdir(), "dockyard-spawner-"));
    const executor = new ShellExecutor({ workDir });
    executor.warmUp();
    const shells = await waitForChildren(2);
    await executor.close();
    await waitUntil(() => !shells.some(alive));
    await rm(workDir, { recursive: true, force: true });
  });

  it("refuses to start without an agent on the other end", async () => {
    const r = spawnSync(process.execPath, [HELPER], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /start me from the agent/);
  });
});

const HELPER = fileURLToPath(new URL("./helper.mjs", import.meta.url));

/** Pids of the waiting shells of our helper (grandchildren running the wait-for-script command). */
async function waitForChildren(n: number): Promise<number[]> {
  let found: number[] = [];
  await waitUntil(() => {
    found = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) =>
      readFileText(`/proc/${pid}/cmdline`).includes("__dockyard_script") && alive(pid) &&
      readFileText(`/proc/${readFileText(`/proc/${pid}/stat`).split(") ")[1]?.split(" ")[1]}/status`).includes(`PPid:\t${process.pid}`));
    return found.length >= n;
  });
  return found;
}

/** The spawner helper started by process `parent`. */
function helperOf(parent: number): number {
  const pid = Number(readdirSync("/proc").find((p) => /^\d+$/.test(p) && existsSync(`/proc/${p}/cmdline`) &&
    readFileText(`/proc/${p}/cmdline`).includes("helper.mjs") && readFileText(`/proc/${p}/status`).includes(`PPid:\t${parent}\n`)));
  assert.ok(pid > 0, "helper process found");
  return pid;
}

/** Live processes in process group `pgid`. */
function inGroup(pgid: number): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    const f = readFileText(`/proc/${pid}/stat`).split(") ")[1]?.split(" ");
    return f !== undefined && f[0] !== "Z" && Number(f[2]) === pgid;
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileText(`/proc/${pid}/stat`).includes(") Z "); // a zombie is gone for our purposes
  } catch {
    return false;
  }
}

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
