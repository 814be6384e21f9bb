// `npm run demo` as a user runs it: twice in a row (the second run restarts the farm), the
// printed `export` line used from another directory, and `stop`, which ends every process the
// demo started and no service it found running. Each demo here has its own state directory,
// ports and NATS subject prefix beside any real demo, and runs only the hello example.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { tempDir } from "@dockyard/testkit";
import { REPO_ROOT } from "../helpers/farm";
import {
  dockerAnswers,
  freePortPair,
  listening,
  recordedPids,
  runDemo,
  runShell,
  running,
  sessionMembers,
} from "../helpers/demo";
import { waitFor } from "../helpers/wait";

const SHARED_DOCKER = "/tmp/dockyard-docker/docker.sock";
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** Every recorded process and the rest of its session have exited (polled: stop has just returned). */
async function allGone(pids: Map<string, number>): Promise<void> {
  const left = () =>
    [...pids].filter(([, pid]) => running(pid) || sessionMembers(pid).length > 0).map(([n, p]) => `${n} (${p})`);
  await waitFor(() => left().length === 0, { timeoutMs: 10_000, message: "the demo's processes to exit" }).catch(
    (err: Error) => {
      throw new Error(`${err.message}; still running: ${left().join(", ")}`, { cause: err });
    },
  );
}

async function sharedServicesUp(): Promise<void> {
  assert.ok(await listening(4222), "NATS on 127.0.0.1:4222 must be running ('npm test' starts it)");
  assert.ok(await dockerAnswers(SHARED_DOCKER), `dockerd at ${SHARED_DOCKER} must be running ('npm test' starts it)`);
  assert.ok(await listening(5000), "the registry on 127.0.0.1:5000 must be running ('npm test' starts it)");
}

describe("npm run demo", { timeout: 15 * 60_000 }, () => {
  test("runs twice in a row, prints paths that work from anywhere, and stop ends only what it started", async () => {
    await sharedServicesUp();
    const dir = tempDir("demo");
    const port = await freePortPair();
    const env = {
      DOCKYARD_DEMO_DIR: dir,
      DOCKYARD_DEMO_PORT: String(port),
      DOCKYARD_DEMO_EXAMPLES: "hello",
      DOCKYARD_NATS_PREFIX: `t${randomBytes(4).toString("hex")}`,
    };
    after(() => runDemo(env, ["stop"]));

    const first = await runDemo(env);
    assert.equal(first.code, 0, first.output);
    assert.match(
      first.output,
      new RegExp(`The example pipeline succeeded:\\n  hello +run ${UUID.source}  succeeded\\n`),
    );
    assert.doesNotMatch(first.output, /(Both|All \d+) example pipelines/);
    const farm1 = recordedPids(dir);
    assert.deepEqual(
      [...farm1.keys()].sort(),
      ["agent-a", "agent-b", "server"],
      "the shared services were running: the demo started none",
    );
    for (const [name, pid] of farm1) assert.ok(running(pid), `${name} (${pid}) runs after the first demo`);

    // Again while the farm runs: the old farm is stopped (the processes it recorded), a new one starts.
    const second = await runDemo(env);
    assert.equal(second.code, 0, second.output);
    assert.doesNotMatch(second.output, /port \d+ is in use/);
    const farm2 = recordedPids(dir);
    for (const [name, pid] of farm2) {
      assert.ok(running(pid), `${name} (${pid}) runs after the second demo`);
      assert.notEqual(pid, farm1.get(name), `${name} was restarted`);
    }
    await allGone(farm1);

    // The printed export line and commands, pasted into a shell in another directory.
    const exportLine = second.output.split("\n").find((l) => l.trim().startsWith("export DOCKYARD_SERVER="));
    assert.ok(exportLine, second.output);
    assert.match(exportLine, new RegExp(`DOCKYARD_CA_FILE=${dir}/server/pki/ca\\.crt `));
    const runsLine = second.output.split("\n").find((l) => / runs +# recent runs/.test(l));
    assert.ok(runsLine?.trim().startsWith(path.join(REPO_ROOT, "cli/bin/dockyard")), `absolute CLI path: ${runsLine}`);
    const helloRun = new RegExp(`hello +run (${UUID.source})`).exec(second.output)?.[1];
    const runs = await runShell(`${exportLine.trim()}\n${runsLine!.replace(/#.*/, "")}`, tempDir("elsewhere"));
    assert.equal(runs.code, 0, runs.output);
    assert.ok(helloRun && runs.output.includes(helloRun), `dockyard runs lists ${helloRun}:\n${runs.output}`);

    const stop = await runDemo(env, ["stop"]);
    assert.equal(stop.code, 0, stop.output);
    await allGone(farm2);
    assert.equal(await listening(port), false, `port ${port} is free after stop`);
    assert.equal(await listening(port + 1), false, `port ${port + 1} is free after stop`);
    // What the demo did not start stays up.
    await sharedServicesUp();
  });

  test("stop stops the NATS, dockerd (and its containerd) and registry that the demo started", async () => {
    await sharedServicesUp();
    const dir = tempDir("demo-own");
    const instance = `dt${randomBytes(4).toString("hex")}`;
    const engineRoot = `/tmp/dockyard-docker-${instance}`;
    const port = await freePortPair();
    const natsPort = await freePortPair();
    const registryPort = await freePortPair();
    const env = {
      DOCKYARD_DEMO_DIR: path.join(dir, "demo"),
      DOCKYARD_DEMO_PORT: String(port),
      DOCKYARD_DEMO_EXAMPLES: "hello",
      DOCKYARD_DEMO_DOCKER: instance,
      DOCKYARD_DEMO_NATS_PORT: String(natsPort),
      DOCKYARD_DEMO_REGISTRY: `127.0.0.1:${registryPort}`,
      DOCKYARD_REGISTRY_DIR: path.join(dir, "registry"),
      DOCKYARD_RUN: path.join(dir, "services"),
      DOCKYARD_NATS_PREFIX: `t${randomBytes(4).toString("hex")}`,
    };
    after(async () => {
      await runDemo(env, ["stop"]);
      rmSync(engineRoot, { recursive: true, force: true });
    });

    const run = await runDemo(env);
    assert.equal(run.code, 0, run.output);
    const pids = recordedPids(env.DOCKYARD_DEMO_DIR);
    const expected = [
      "agent-a",
      "agent-b",
      "server",
      "services/nats",
      "services/registry",
      `services/dockerd-${instance}`,
      `services/containerd-${instance}`,
    ];
    assert.deepEqual([...pids.keys()].sort(), expected.sort());
    for (const [name, pid] of pids) assert.ok(running(pid), `${name} (${pid}) runs`);
    assert.ok(await listening(natsPort), "the demo's NATS answers");
    assert.ok(await listening(registryPort), "the demo's registry answers");
    assert.ok(await dockerAnswers(`${engineRoot}/docker.sock`), "the demo's dockerd answers");

    const stop = await runDemo(env, ["stop"]);
    assert.equal(stop.code, 0, stop.output);
    assert.match(stop.output, /stopped what the demo had started: registry nats dockerd-/);
    await allGone(pids);
    assert.equal(await listening(natsPort), false, "the demo's NATS is stopped");
    assert.equal(await listening(registryPort), false, "the demo's registry is stopped");
    assert.equal(await dockerAnswers(`${engineRoot}/docker.sock`), false, "the demo's dockerd is stopped");
    await sharedServicesUp();
  });
});
