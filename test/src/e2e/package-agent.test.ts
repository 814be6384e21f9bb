// The release package's agent, as a host runs it: `npm run package`'s tarball unpacked in a
// temporary directory outside the repository, started with its own bin/dockyard (the package's
// node), registers with a test farm's server and runs a stage with the native spawner.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { startFarm, submit, waitFor, waitForRun, runEvents, logsByStage, REPO_ROOT, type Farm } from "../index";
import { spawnPackageAgent, unpackedPackage, type UnpackedPackage } from "../helpers/release-package";
import type { SpawnedAgent } from "../helpers/farm";

describe("release package agent", () => {
  let farm: Farm;
  let pkg: UnpackedPackage;
  let agent: SpawnedAgent | undefined;
  before(async () => {
    pkg = await unpackedPackage();
    farm = await startFarm();
  });
  after(async () => {
    agent?.child.kill("SIGKILL");
    await farm?.stop();
  });

  it("is outside the repository and names no path in it", () => {
    assert.ok(!pkg.root.startsWith(REPO_ROOT), pkg.root);
    for (const file of readdirSync(path.join(pkg.root, "dist"))) {
      assert.ok(
        !readFileSync(path.join(pkg.root, "dist", file), "utf8").includes(REPO_ROOT),
        `dist/${file} names ${REPO_ROOT}`,
      );
    }
    const [version, commit] = readFileSync(path.join(pkg.root, "VERSION"), "utf8").trim().split(" ");
    assert.equal(version, pkg.version);
    assert.match(commit!, /^[0-9a-f]{7,}$/);
    const printed = execFileSync(pkg.bin, ["--version"], {
      cwd: "/",
      env: { PATH: "/usr/bin:/bin" },
      encoding: "utf8",
    });
    assert.equal(printed, `dockyard ${version} (${commit})\n`);
  });

  it("registers and runs a stage from its own directory with its own node", async () => {
    agent = spawnPackageAgent(pkg, farm, { name: "pkg-a", executor: "shell", capacity: 1 });
    const log = () => readFileSync(agent!.logFile, "utf8");
    const row = await waitFor(
      async () => (await farm.pg.query<{ state: string }>("select state from agents where name = 'pkg-a'")).rows[0],
      { message: "the package's agent to register", timeoutMs: 30_000 },
    ).catch((err: Error) => assert.fail(`${err.message}\nagent log:\n${log()}`));
    assert.ok(row);
    const runId = await submit(
      farm.client,
      `
name: from-package
stages:
  hello:
    executor: shell
    commands: ["echo hello from $(basename $(readlink /proc/$PPID/exe))"]
`,
    );
    const run = await waitForRun(farm.client, runId);
    const states = run.stages.map((s) => [s.name, s.state, s.reason]);
    assert.equal(run.state, "succeeded", `${JSON.stringify(states)}\nagent log:\n${log()}`);
    // The stage's parent is the native spawner (dy-spawn), not the Node fallback.
    assert.equal(logsByStage(await runEvents(farm.client, runId)).get("hello"), "hello from dy-spawn\n");
    // The agent process is the package's node.
    assert.equal(
      readFileSync(`/proc/${agent.child.pid}/cmdline`, "utf8").split("\0")[0],
      path.join(pkg.root, "node/bin/node"),
    );
  });
});
