// The spool journal: what survives a restart, what is forgotten, and that the file stays small.
import assert from "node:assert/strict";
import { appendFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { readSpools, SpoolJournal } from "./spool";
import { tempDir } from "@dockyard/testkit";

const meta = (attemptId: string) => ({ attemptId, leaseId: `lease-${attemptId}`, stageName: "s", runId: "r" });
const chunk = (seq: number, text: string) => ({ seq, stream: 1, data: Buffer.from(text) });
const journalFile = (dir: string) => path.join(dir, "journal.bin");

describe("spool journal", () => {
  it("keeps chunks, start and final status of unfinished attempts across a reopen", () => {
    const dir = tempDir("spool");
    const j = SpoolJournal.open(dir);
    const a = j.begin(meta("a"));
    const b = j.begin(meta("b"));
    a.append(chunk(1, "one\n"));
    b.append(chunk(1, "other\n"));
    a.markStarted();
    a.append(chunk(2, "two\n"));
    a.writeFinal({ exitCode: 0, outcome: "succeeded", message: "", lastLogSeq: 2, oomKilled: false });
    b.remove(); // acknowledged: forgotten
    j.close();

    const again = SpoolJournal.open(dir);
    const [only, ...rest] = again.recovered();
    assert.equal(rest.length, 0);
    assert.deepEqual(only!.meta, { ...meta("a"), started: true });
    assert.deepEqual(
      only!.chunks.map((c) => [c.seq, c.data.toString()]),
      [
        [1, "one\n"],
        [2, "two\n"],
      ],
    );
    assert.equal(only!.final?.outcome, "succeeded");
    assert.deepEqual(
      readSpools(dir).map((s) => s.meta.attemptId),
      ["a"],
    );
    again.done("a");
    assert.deepEqual(readSpools(dir), []);
    again.close();
  });

  it("empties the file whenever no attempt is open", () => {
    const dir = tempDir("spool");
    const j = SpoolJournal.open(dir);
    for (let i = 0; i < 100; i++) {
      const s = j.begin(meta(`x${i}`));
      s.append(chunk(1, "line\n".repeat(100)));
      s.remove();
    }
    assert.equal(statSync(journalFile(dir)).size, 0);
    j.close();
  });

  it("ignores a record torn by a crash mid-write", () => {
    const dir = tempDir("spool");
    const j = SpoolJournal.open(dir);
    j.begin(meta("a")).append(chunk(1, "whole\n"));
    j.close();
    appendFileSync(journalFile(dir), Buffer.from([200, 0, 0, 0, 2, 1, 97, 1, 2, 3])); // claims 200 bytes, has 6
    const [a] = readSpools(dir);
    assert.deepEqual(
      a!.chunks.map((c) => c.data.toString()),
      ["whole\n"],
    );
    const reopened = SpoolJournal.open(dir); // and the reopen drops the torn tail
    const s = reopened.begin(meta("b"));
    s.append(chunk(1, "after\n"));
    reopened.close();
    assert.deepEqual(
      readSpools(dir).map((c) => [c.meta.attemptId, c.chunks.map((x) => x.data.toString())]),
      [
        ["a", ["whole\n"]],
        ["b", ["after\n"]],
      ],
    );
  });

  it("rewrites a large journal without the finished attempts while one stays open", () => {
    const dir = tempDir("spool");
    const j = SpoolJournal.open(dir);
    const long = j.begin(meta("long"));
    long.append(chunk(1, "kept\n"));
    const mib = "x".repeat(1024 * 1024);
    for (let i = 0; i < 70; i++) {
      const s = j.begin(meta(`short${i}`));
      s.append(chunk(1, mib));
      s.remove();
    }
    assert.ok(statSync(journalFile(dir)).size < 8 * 1024 * 1024, `journal is ${statSync(journalFile(dir)).size} bytes`);
    long.append(chunk(2, "still\n"));
    j.close();
    assert.deepEqual(
      readSpools(dir).map((c) => [c.meta.attemptId, c.chunks.map((x) => x.data.toString())]),
      [["long", ["kept\n", "still\n"]]],
    );
  });
});
