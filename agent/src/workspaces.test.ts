import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import pino from "pino";
import { ShellExecutor } from "./executor/shell";
import { RunSources } from "./stages/run-sources";
import { Workspaces } from "./workspaces";
import { tempDir } from "@dockyard/testkit";

describe("Workspaces (shell executor and run sources on disk)", () => {
  const root = tempDir("workspaces");
  const shell = new ShellExecutor({ workDir: path.join(root, "work") });
  const sources = new RunSources(path.join(root, "sources"), () => {
    throw new Error("no server in this test");
  });
  const busy = new Set<string>();
  const workspaces = new Workspaces(
    [shell],
    sources,
    () => "agent-1",
    (runId) => busy.has(runId),
    pino({ level: "silent" }),
  );
  after(async () => {
    await shell.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("finds what an earlier process left on disk, reports run ids only, and removes a run's workspace once its last runner is done", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    mkdirSync(path.join(root, "work", a, "out"), { recursive: true });
    mkdirSync(path.join(root, "work", "not-a-run"), { recursive: true });
    mkdirSync(path.join(root, "sources", b, "tree"), { recursive: true });
    assert.deepEqual(workspaces.report, { own: [], foreign: [] });
    await workspaces.refresh();
    assert.deepEqual(
      { own: [...workspaces.report.own].sort(), foreign: workspaces.report.foreign },
      { own: [a, b].sort(), foreign: [] },
    );

    // Our runner of `a` still works in it: the end waits for it.
    busy.add(a);
    workspaces.runEnded(a);
    workspaces.runEnded(b);
    await waitUntil(() => !existsSync(path.join(root, "sources", b)));
    assert.equal(existsSync(path.join(root, "work", a)), true, "kept while our runner of the run works");
    busy.delete(a);
    workspaces.runnerDone(a);
    await waitUntil(() => !existsSync(path.join(root, "work", a)));
    await waitUntil(() => workspaces.report.own.length === 0);
    await workspaces.refresh();
    assert.deepEqual(workspaces.report, { own: [], foreign: [] });
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
