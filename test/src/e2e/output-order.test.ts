// A stage's stdout and stderr are stored in the order the agent read them,
// across both streams: lines written alternately to stdout and stderr, with
// small pauses between them, come back interleaved exactly as written, on the
// docker and the shell executor, also while a secret is masked in the output
// (the masker then holds back bytes that could start the secret).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { LogStream, type RunEvent } from "@dockyard/proto";
import { startFarm, submit, testDocker, waitForRun, runEvents, type Farm } from "../index";

/** The stored output of `stage` as `[stream, text]` pieces in seq order, adjacent pieces of one stream joined. */
function storedPieces(events: RunEvent[], stage: string): [string, string][] {
  const out: [string, string][] = [];
  for (const e of events) {
    if (e.body.case !== "log" || e.body.value.stageName !== stage) continue;
    const stream = LogStream[e.body.value.stream] ?? String(e.body.value.stream);
    const text = Buffer.from(e.body.value.data).toString();
    const last = out[out.length - 1];
    if (last && last[0] === stream) last[1] += text;
    else out.push([stream, text]);
  }
  return out;
}

describe("stdout and stderr order", { timeout: 120_000 }, () => {
  let farm: Farm;
  const value = `order-${randomBytes(12).toString("hex")}`;
  before(async () => {
    await testDocker();
    farm = await startFarm({
      agents: [
        { name: "order-docker", executor: "docker" },
        { name: "order-shell", executor: "shell" },
      ],
    });
    await farm.client.setSecret({ name: "order-key", value: Buffer.from(value) });
  });
  after(async () => farm?.stop());

  for (const executor of ["docker", "shell"] as const) {
    it(`keeps the ${executor} executor's interleaved stdout and stderr lines in the order written`, async () => {
      const where = executor === "docker" ? "image: dockyard/busybox:1" : "executor: shell";
      // One write each, with a pause so that the agent reads each before the next. The first
      // one ends like the start of the secret ("order-"): the masker holds it back until the
      // next stdout write, and the stderr line read meanwhile must wait behind it.
      const script = ["printf 'out0 order-'", "echo err1 >&2", "echo out2", "echo err3 >&2", 'echo out4 "$KEY"'].join(
        "; sleep 0.25; ",
      );
      const stages = ["plain", "masked"]
        .map(
          (name) =>
            `  ${name}:\n    ${where}\n${name === "masked" ? "    env: { KEY: { secret: order-key } }\n" : ""}    commands: [${JSON.stringify(script)}]`,
        )
        .join("\n");
      const runId = await submit(farm.client, `name: order-${executor}\nstages:\n${stages}\n`);
      const run = await waitForRun(farm.client, runId);
      assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
      const events = await runEvents(farm.client, runId);
      const want = (last: string) => [
        ["STDOUT", "out0 order-"],
        ["STDERR", "err1\n"],
        ["STDOUT", "out2\n"],
        ["STDERR", "err3\n"],
        ["STDOUT", `out4 ${last}\n`],
      ];
      assert.deepEqual(storedPieces(events, "plain"), want(""));
      assert.deepEqual(storedPieces(events, "masked"), want("***"));
    });
  }
});
