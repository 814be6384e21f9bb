// The service start scripts on a machine whose /tmp outlived its processes (a restored snapshot,
// a reboot without tmpfs): the registry's pid file names a pid that now belongs to an unrelated
// process. The script must start a registry, not report "running but not answering" and fail
// (what CI saw). The registry here has its own port and directory beside the shared one; the
// dockerd is an instance of its own (/tmp/dockyard-docker-INSTANCE).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import Docker from "dockerode";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { tempDir } from "@dockyard/testkit";
import { REPO_ROOT, freePort } from "../helpers/farm";
import { runShell, running } from "../helpers/demo";
import { waitFor } from "../helpers/wait";

/** A live process that stands for "whatever got the old pid": kill -0 on it succeeds. */
function strangerProcess(t: { after(fn: () => void): void }): number {
  const stranger = spawn("sleep", ["600"], { stdio: "ignore" });
  t.after(() => stranger.kill("SIGKILL"));
  assert.ok(stranger.pid && running(stranger.pid), "the unrelated process runs (kill -0 would call the daemon alive)");
  return stranger.pid;
}

async function stop(pid: number, what: string): Promise<void> {
  if (running(pid)) process.kill(pid, "SIGTERM");
  await waitFor(() => !running(pid), { timeoutMs: 30_000, message: `${what} to stop` });
}

test(
  "start-registry.sh starts a registry when its pid file names a pid reused by another process",
  { timeout: 120_000 },
  async (t) => {
    const dir = tempDir("registry-stale-pid");
    const port = await freePort();
    const stranger = strangerProcess(t);
    writeFileSync(path.join(dir, "registry.pid"), `${stranger}\n`);

    const env = { DOCKYARD_REGISTRY_LISTEN: `127.0.0.1:${port}`, DOCKYARD_REGISTRY_DIR: dir };
    const result = await runShell("bash scripts/registry/start-registry.sh", REPO_ROOT, env);
    const registryPid = Number(readFileSync(path.join(dir, "registry.pid"), "utf8").trim());
    t.after(() => stop(registryPid, "the test registry"));

    assert.equal(result.code, 0, result.output);
    assert.match(
      result.output,
      new RegExp(`registry started \\(pid ${registryPid}\\): http://127\\.0\\.0\\.1:${port}`),
    );
    assert.notEqual(registryPid, stranger);
    assert.ok(running(stranger), "the unrelated process was left alone");
    const answer = await fetch(`http://127.0.0.1:${port}/v2/`);
    assert.equal(answer.status, 401, "the new registry answers and asks for credentials");
  },
);

test(
  "start-dockerd.sh starts an engine when its and its containerd's pid files name a reused pid",
  { timeout: 120_000 },
  async (t) => {
    const instance = `stale${randomBytes(3).toString("hex")}`;
    const root = `/tmp/dockyard-docker-${instance}`;
    const stranger = strangerProcess(t);
    mkdirSync(path.join(root, "exec", "containerd"), { recursive: true });
    writeFileSync(path.join(root, "dockerd.pid"), String(stranger));
    writeFileSync(path.join(root, "exec", "containerd", "containerd.pid"), String(stranger));

    const result = await runShell(`bash scripts/docker/start-dockerd.sh ${instance}`, REPO_ROOT);
    const started = /dockerd started \(pid (\d+)\)/.exec(result.output);
    try {
      assert.equal(result.code, 0, result.output);
      assert.ok(started, result.output);
      assert.match(result.output, new RegExp(`unix://${root}/docker.sock`));
      assert.ok(running(stranger), "the unrelated process was left alone");
      assert.equal(
        await new Docker({ socketPath: `${root}/docker.sock` }).ping().then(String),
        "OK",
        "the new engine answers",
      );
    } finally {
      // The engine first (it stops its containerd on the way out), then its directory.
      if (started) await stop(Number(started[1]), "the test dockerd");
      rmSync(root, { recursive: true, force: true });
    }
  },
);
