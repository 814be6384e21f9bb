// The shell spawner beyond the executor contract: what a stage's shell can see, where its
// script goes, and what happens when the helper process dies.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
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

  it("fails the attempts of a helper that dies, and starts a new helper for the next one", async () => {
    const s = spec(["sleep 30"]);
    const handle = await executor.start(s, new AbortController().signal);
    const helperPid = Number(readdirSync("/proc").find((p) => /^\d+$/.test(p) && existsSync(`/proc/${p}/cmdline`) &&
      readFileText(`/proc/${p}/cmdline`).includes("helper.mjs") && readFileText(`/proc/${p}/status`).includes(`PPid:\t${process.pid}`)));
    assert.ok(helperPid > 0, "helper process found");
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
