// Which stages a re-run from the failed stages keeps: no database (the farm test is test/src/e2e/http-rerun.test.ts).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunWithStages } from "./store/runs";
import { checkRerunnable, stagesToReuse } from "./rerun";

function run(state: string, stages: [name: string, state: string, needs: string[], parent?: string][]): RunWithStages {
  return {
    id: "r1",
    state,
    stages: stages.map(([name, st, needs, parent]) => ({
      name,
      state: st,
      needs,
      parentStageId: parent ?? null,
      outputs: st === "succeeded" ? { values: { of: name } } : null,
    })),
  } as unknown as RunWithStages;
}

describe("stagesToReuse", () => {
  it("keeps the succeeded stages that need nothing that runs again, with their outputs", () => {
    const r = run("failed", [
      ["a", "succeeded", []],
      ["b", "failed", ["a"]],
      ["c", "succeeded", ["b"]], // ran despite b (continue on skip): b runs again, so c does too
      ["d", "skipped", ["c"]],
      ["e", "succeeded", ["a"]],
      ["f", "canceled", []],
      ["a/child", "succeeded", [], "a"],
    ]);
    const kept = stagesToReuse(r, true);
    assert.deepEqual([...kept.keys()], ["a", "e"]);
    assert.deepEqual(kept.get("a"), { values: { of: "a" } });
    assert.equal(stagesToReuse(r, false).size, 0, "a whole re-run keeps nothing");
  });

  it("refuses a run not finished, and from=failed when nothing failed", () => {
    const running = run("running", [["a", "running", []]]);
    assert.throws(() => checkRerunnable(running, false, stagesToReuse(running, false)), /only a finished run/);
    const ok = run("succeeded", [["a", "succeeded", []]]);
    assert.throws(() => checkRerunnable(ok, true, stagesToReuse(ok, true)), /nothing failed to re-run/);
    assert.doesNotThrow(() => checkRerunnable(ok, false, stagesToReuse(ok, false)));
  });
});
