// Command stages report outputs through the file $DOCKYARD_OUTPUT names
// (`key=value`, `key<<EOF` for multi-line values), on the docker and the shell
// executor: a later stage on another agent reads them, a secret written as a
// value is masked, bad content fails the stage naming the line, and the
// per-attempt output directory is gone afterwards.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { Run } from "@dockyard/proto";
import { OutputDirs } from "@dockyard/agent";
import { tempDir } from "@dockyard/testkit";
import { startFarm, submit, testDocker, waitForRun, runEvents, logsByStage, type Farm } from "../index";

/** The commands of a stage that reports outputs: one line per key, and a multi-line value. */
const WRITE = [
  'echo "version=1.2.$DOCKYARD_ATTEMPT" >> "$DOCKYARD_OUTPUT"',
  'printf "notes<<EOF\\nfirst line\\n\\nthird=line\\nEOF\\n" >> "$DOCKYARD_OUTPUT"',
  'echo "token=key is $KEY" >> "$DOCKYARD_OUTPUT"',
];

function stage(run: Run, name: string) {
  const s = run.stages.find((x) => x.name === name);
  assert.ok(s, `no stage ${name}`);
  return s;
}

describe("outputs from command stages", { timeout: 120_000 }, () => {
  let farm: Farm;
  const value = `out-${randomBytes(12).toString("hex")}`;
  const stateDirs = { docker: tempDir("agent-outputs-docker"), shell: tempDir("agent-outputs-shell") };
  /** Whether any agent still holds the attempt's output directory. */
  const outputDirLeft = (id: string) =>
    Object.values(stateDirs).some((d) => existsSync(new OutputDirs(path.join(d, "outputs")).pathOf(id)));
  before(async () => {
    await testDocker();
    farm = await startFarm({
      agents: [
        { name: "outputs-docker", executor: "docker", stateDir: stateDirs.docker },
        { name: "outputs-shell", executor: "shell", stateDir: stateDirs.shell },
      ],
    });
    await farm.client.setSecret({ name: "outputs-key", value: Buffer.from(value) });
  });
  after(async () => farm?.stop());

  /** Attempt ids of a run, to check their output directories are gone. */
  const attemptsOf = async (runId: string) =>
    (await farm.pg.query<{ id: string }>("SELECT id FROM attempts WHERE run_id = $1", [runId])).rows.map((r) => r.id);

  it("passes values from a stage on one agent to a stage on the other, both ways, masked, multi-line", async () => {
    const reader = (from: string) => ({
      env: `{ V: "\${{ stages.${from}.outputs.version }}", NOTES: "\${{ stages.${from}.outputs.notes }}", T: "\${{ stages.${from}.outputs.token }}" }`,
      commands: JSON.stringify(['echo "version=$V"', 'printf "%s|" "$NOTES" | tr "\\n" "/"; echo', 'echo "token=$T"']),
    });
    const runId = await submit(
      farm.client,
      `
name: outputs
stages:
  produce-docker: { image: dockyard/busybox:1, env: { KEY: { secret: outputs-key } }, commands: ${JSON.stringify(WRITE)} }
  produce-shell: { executor: shell, env: { KEY: { secret: outputs-key } }, commands: ${JSON.stringify(WRITE)} }
  read-on-shell: { executor: shell, needs: [produce-docker], env: ${reader("produce-docker").env}, commands: ${reader("produce-docker").commands} }
  read-on-docker: { image: dockyard/busybox:1, needs: [produce-shell], env: ${reader("produce-shell").env}, commands: ${reader("produce-shell").commands} }
`,
    );
    const run = await waitForRun(farm.client, runId);
    assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
    for (const [producer, consumer] of [
      ["produce-docker", "read-on-shell"],
      ["produce-shell", "read-on-docker"],
    ] as const) {
      assert.notEqual(
        stage(run, producer).attemptHistory.at(-1)?.agentId,
        stage(run, consumer).attemptHistory.at(-1)?.agentId,
        "on two agents",
      );
      assert.deepEqual(
        { ...stage(run, producer).outputs?.values },
        { version: "1.2.1", notes: "first line\n\nthird=line", token: "key is ***" },
      );
      const log = logsByStage(await runEvents(farm.client, runId)).get(consumer);
      assert.equal(log, "version=1.2.1\nfirst line//third=line|\ntoken=key is ***\n");
    }
    for (const id of await attemptsOf(runId))
      assert.equal(outputDirLeft(id), false, `output directory of attempt ${id} left behind`);
  });

  it("fails a stage whose output file is malformed or over 64 KiB, naming the line and the problem", async () => {
    const runId = await submit(
      farm.client,
      `
name: bad-outputs
stages:
  malformed-docker: { image: dockyard/busybox:1, commands: ["echo ok=1 >> $DOCKYARD_OUTPUT", "echo 'no equals sign' >> $DOCKYARD_OUTPUT"] }
  bad-key-shell: { executor: shell, commands: ["echo '2fast=x' >> $DOCKYARD_OUTPUT"] }
  too-big-shell: { executor: shell, commands: ["i=0; while [ $i -lt 2000 ]; do echo k$((i % 50 + 10))=01234567890123456789012345678901234 >> $DOCKYARD_OUTPUT; i=$((i+1)); done"] }
  just-fits-docker: { image: dockyard/busybox:1, commands: ["i=0; while [ $i -lt 1600 ]; do echo k$((i % 50 + 10))=01234567890123456789012345678901234 >> $DOCKYARD_OUTPUT; i=$((i+1)); done"] }
`,
    );
    const run = await waitForRun(farm.client, runId);
    // The attempt's reason: the stage's own `reason` is its state until the last attempt's message is copied there (#12
    // point 7).
    const states = Object.fromEntries(
      run.stages.map((s) => [s.name, [s.state, s.attemptHistory.at(-1)?.reason ?? ""]]),
    );
    assert.deepEqual(states["malformed-docker"], [
      "failed",
      "$DOCKYARD_OUTPUT: line 2: 'no equals sign' is neither key=value nor key<<DELIMITER",
    ]);
    assert.match(
      states["bad-key-shell"]![1]!,
      /^\$DOCKYARD_OUTPUT: line 1: key '2fast' must start with a letter or '_'/,
    );
    assert.equal(states["bad-key-shell"]![0], "failed");
    // 2000 lines of 40 bytes: 80 000; the positive control writes 1600 (64 000, under 64 KiB).
    assert.deepEqual(states["too-big-shell"], [
      "failed",
      "$DOCKYARD_OUTPUT: the file has 80000 bytes; at most 65536 are allowed",
    ]);
    assert.equal(states["just-fits-docker"]![0], "succeeded", JSON.stringify(states["just-fits-docker"]));
    for (const id of await attemptsOf(runId))
      assert.equal(outputDirLeft(id), false, `output directory of attempt ${id} left behind`);
  });
});
