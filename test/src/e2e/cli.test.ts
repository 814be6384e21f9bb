// The dockyard CLI binary against a real farm: validate, run --watch, runs,
// logs, agents, cancel, and a watch that survives a server restart.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startFarm, freePort, submit, runningAttempt, testDocker, REPO_ROOT, type Farm } from "../index";
import { tempDir } from "@dockyard/testkit";

const BIN = path.join(REPO_ROOT, "cli/bin/dockyard");

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function dockyard(
  farm: Farm,
  args: string[],
  opts: { onStdout?: (s: string) => void; env?: Record<string, string> } = {},
): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, {
      cwd: os.tmpdir(),
      env: {
        ...process.env,
        DOCKYARD_SERVER: farm.server.grpcAddress,
        DOCKYARD_TOKEN: farm.apiToken,
        DOCKYARD_CA_FILE: farm.caFile,
        NO_COLOR: "1",
        ...opts.env,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(stdout);
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function file(name: string, text: string): string {
  const dir = tempDir("cli");
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("dockyard CLI", () => {
  let farm: Farm;
  before(async () => {
    await testDocker();
    farm = await startFarm({
      env: { DOCKYARD_GRPC_LISTEN: `127.0.0.1:${await freePort()}` },
      agents: [
        { name: "cli-a", capacity: 2 },
        { name: "cli-b", capacity: 2, labels: { disk: "ssd" } },
      ],
    });
  });
  after(async () => farm?.stop());

  // The example pipeline reads a secret; `npm run demo` stores it the same way.
  const setExampleSecret = () =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(BIN, ["secret", "set", "hello-publish-token"], {
        env: {
          ...process.env,
          DOCKYARD_SERVER: farm.server.grpcAddress,
          DOCKYARD_TOKEN: farm.apiToken,
          DOCKYARD_CA_FILE: farm.caFile,
        },
      });
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`secret set exited ${code}`))));
      child.stdin.end(exampleSecret);
    });
  const exampleSecret = "dyk_test_example_publish_token";

  it("validate prints every problem with line and column and exits 1", async () => {
    const bad = file(
      "bad.yml",
      "name: Bad Name\nstages:\n  a:\n    image: x\n    command: y\n    needs: [ghost]\n    timeout: 10x\n",
    );
    const r = await dockyard(farm, ["validate", bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yml:1:7: name:/);
    assert.match(r.stderr, /bad\.yml:6:\d+: stages\.a\.needs\[0\]: .*ghost/);
    assert.match(r.stderr, /bad\.yml:7:14: stages\.a\.timeout:/);
    const good = await dockyard(farm, ["validate", path.join(REPO_ROOT, "examples/hello/dockyard.yml")]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /ok \(6 stages\)/);
  });

  it("run --watch streams status and logs of the example and exits 0", async () => {
    await setExampleSecret();
    const r = await dockyard(farm, ["run", path.join(REPO_ROOT, "examples/hello/dockyard.yml"), "--watch"]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    // The secret was used, and masked before it left the agent.
    assert.match(r.stdout, /publish \| publishing with token \*\*\*/);
    assert.match(r.stdout, /publish \| token as base64 \*\*\*/);
    assert.ok(
      !r.stdout.includes(exampleSecret) &&
        !r.stdout.includes(Buffer.from(exampleSecret).toString("base64").slice(0, 12)),
    );
    assert.match(r.stdout, /report \| all checks passed/);
    assert.match(r.stdout, /unit-tests \| test lease \.\.\. ok/);
    assert.match(r.stdout, /run [0-9a-f-]{36} succeeded in/);
    const runs = JSON.parse((await dockyard(farm, ["runs", "--json"])).stdout) as {
      name: string;
      state: string;
      id: string;
    }[];
    const hello = runs.find((x) => x.name === "hello");
    assert.equal(hello?.state, "succeeded");
    const logs = await dockyard(farm, ["logs", hello!.id, "unit-tests"]);
    assert.equal(logs.stdout, "test parse ... ok\ntest schedule ... ok\ntest lease ... ok\n");
  });

  it("run --watch exits 1 when the run fails, and run refuses an invalid file with the server's messages", async () => {
    const failing = await dockyard(farm, [
      "run",
      file("f.yml", "name: f\nstages:\n  s: { image: dockyard/busybox:1, command: 'echo boom; exit 4' }\n"),
      "--watch",
    ]);
    assert.equal(failing.code, 1);
    assert.match(failing.stdout, /s \| boom/);
    assert.match(failing.stdout, /failed/);
    const invalid = await dockyard(farm, [
      "run",
      file("inv.yml", "name: inv\nstages:\n  s: { image: x, command: y, needs: [s] }\n"),
    ]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /inv\.yml:3:38: stages\.s\.needs\[0\]: a stage cannot need itself/);
  });

  it("agents --json lists both agents with labels and capacity", async () => {
    const agents = JSON.parse((await dockyard(farm, ["agents", "--json"])).stdout) as {
      name: string;
      state: string;
      labels: Record<string, string>;
      capacity: number;
    }[];
    const b = agents.find((a) => a.name === "cli-b");
    assert.deepEqual([b?.state, b?.labels, b?.capacity], ["online", { disk: "ssd" }, 2]);
  });

  it("cancel ends a running run", async () => {
    const runId = await submit(
      farm.client,
      "name: c\nstages:\n  s: { image: dockyard/busybox:1, command: 'sleep 300' }\n",
    );
    await runningAttempt(farm, runId);
    const r = await dockyard(farm, ["cancel", runId]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /canceled/);
  });

  it("watch resumes after a server restart without repeating or losing lines", async () => {
    const runId = await submit(
      farm.client,
      "name: w\nstages:\n  s: { image: dockyard/busybox:1, command: 'for i in $(seq 1 40); do echo n$i; sleep 0.1; done' }\n",
    );
    let restarted = false;
    const watching = dockyard(farm, ["watch", runId], {
      onStdout: (out) => {
        if (!restarted && out.includes("s | n5\n")) {
          restarted = true;
          void farm.stopServer().then(() => farm.startServer());
        }
      },
    });
    const r = await watching;
    assert.ok(restarted, "server was restarted mid-watch");
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const lines = r.stdout.split("\n").filter((l) => l.startsWith("s | "));
    assert.deepEqual(
      lines,
      Array.from({ length: 40 }, (_, i) => `s | n${i + 1}`),
    );
  });

  it("verifies the server by a pinned CA fingerprint, and refuses a wrong one or none", async () => {
    const fp = farm.server.pki.caFingerprint;
    const pinned = await dockyard(farm, ["--ca-fingerprint", fp, "agents", "--json"], {
      env: { DOCKYARD_CA_FILE: "" },
    });
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.ok((JSON.parse(pinned.stdout) as unknown[]).length >= 2);
    const wrong = await dockyard(farm, ["--ca-fingerprint", "ab".repeat(32), "agents"], {
      env: { DOCKYARD_CA_FILE: "" },
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, new RegExp(`no certificate with fingerprint ${"ab".repeat(32)}`));
    const none = await dockyard(farm, ["agents"], { env: { DOCKYARD_CA_FILE: "" } });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no way to verify the server: pass --ca FILE/);
    assert.ok(
      !pinned.stderr.includes("DEP0123") && !none.stderr.includes("DeprecationWarning"),
      "no Node warning on a CLI command",
    );
  });

  it("names an unreachable server and a bad token", async () => {
    const bad = await new Promise<Result>((resolve) => {
      const child = spawn(BIN, ["runs"], {
        env: {
          ...process.env,
          DOCKYARD_SERVER: farm.server.grpcAddress,
          DOCKYARD_TOKEN: "wrong",
          DOCKYARD_CA_FILE: farm.caFile,
        },
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code, stdout: "", stderr }));
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unauthenticated/);
    const missing = await dockyard(farm, ["logs", "00000000-0000-0000-0000-000000000000"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
  });
});
