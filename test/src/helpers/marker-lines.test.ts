import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { executionReport, readMarkedLines } from "./marker-lines";
import { tempDir } from "@dockyard/testkit";

const lines = (from: number, to: number, t0: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ step: from + i, at: t0 + i * 500 }));

describe("executionReport", () => {
  it("a copy stopped part way, then a retry from the start: lines re-executed, one full execution, a positive gap", () => {
    const r = executionReport({ "s.1": lines(1, 10, 0), "s.2": lines(1, 40, 12_000) }, 40);
    assert.deepEqual(r, {
      linesTwice: 10,
      doubleExecutions: 0,
      gapsMs: { s: [12_000 - 4_500] },
      counts: { s: { 1: 10, 2: 40 } },
    });
  });

  it("a cut-off copy that ran to its end beside the retry: a double execution and a negative gap", () => {
    const r = executionReport({ "s.1": lines(1, 40, 0), "s.2": lines(1, 40, 10_000) }, 40);
    assert.equal(r.doubleExecutions, 1);
    assert.equal(r.linesTwice, 40);
    assert.deepEqual(r.gapsMs, { s: [10_000 - 19_500] });
  });

  it("stages are kept apart, and attempt 10 sorts after attempt 2", () => {
    const r = executionReport({ "a.b.10": lines(1, 2, 9000), "a.b.2": lines(1, 2, 0), "c.1": lines(1, 2, 0) }, 2);
    assert.deepEqual(r.counts, { "a.b": { 2: 2, 10: 2 }, c: { 1: 2 } });
    assert.deepEqual(r.gapsMs["a.b"], [8500]);
    assert.equal(r.doubleExecutions, 1);
  });
});

describe("readMarkedLines", () => {
  it("reads the lines the stage script writes ('STEP EPOCH_MS'), skipping the trailing newline", () => {
    const dir = tempDir("marks-test");
    try {
      writeFileSync(path.join(dir, "s.1"), "1 1700000000000\n2 1700000000500\n");
      assert.deepEqual(readMarkedLines(dir), {
        "s.1": [
          { step: 1, at: 1700000000000 },
          { step: 2, at: 1700000000500 },
        ],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
