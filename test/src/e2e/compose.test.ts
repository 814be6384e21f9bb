// ops/compose/ as an operator uses it: the images built from the release package, Debian's
// docker-compose brings up Postgres, NATS, the server and one agent (the agent joins with the
// token the compose bootstrap made, pinning the server's CA), the hello example runs to success
// through the server's gRPC API with the host's CLI, and `down -v` leaves nothing behind: no
// container, network or volume of the project, and none of the run's stage containers or
// workspace volume. Slow (the package, image builds on a vfs engine, Postgres' initdb): in the
// slow list of scripts/test.sh.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import Docker from "dockerode";
import { composeFarm, exec, prepareComposeImages, type ComposeFarm } from "../helpers/compose-farm";
import { REPO_ROOT } from "../helpers/farm";
import { waitFor } from "../helpers/wait";

const DOCKER_HOST = process.env.DOCKER_HOST ?? "unix:///tmp/dockyard-docker/docker.sock";
const docker = new Docker({ socketPath: DOCKER_HOST.replace(/^unix:\/\//, "") });
const CLI = path.join(REPO_ROOT, "cli/bin/dockyard");
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** What the engine holds with `label` (containers also stopped ones), as names. */
async function leftovers(label: string): Promise<{ containers: string[]; volumes: string[]; networks: string[] }> {
  const filters = JSON.stringify({ label: [label] });
  const containers = (await docker.listContainers({ all: true, filters })).map((c) => c.Names.join(","));
  const volumes = ((await docker.listVolumes({ filters })).Volumes ?? []).map((v) => v.Name);
  const networks = (await docker.listNetworks({ filters })).map((n) => n.Name);
  return { containers, volumes, networks };
}

describe("the compose farm (ops/compose)", { timeout: 20 * 60_000 }, () => {
  let farm: ComposeFarm;
  let cliEnv: Record<string, string>;
  let runId = "";

  before(async () => {
    const t0 = Date.now();
    const { version, images } = await prepareComposeImages(DOCKER_HOST);
    console.log(`# compose images (${Math.round((Date.now() - t0) / 1000)} s): ${JSON.stringify(images)}`);
    farm = await composeFarm(DOCKER_HOST, version);
  });

  after(async () => {
    // A failed test must not leave its farm on the shared engine.
    if (farm) await farm.compose(["down", "-v", "--timeout", "5"]);
  });

  test("comes up from the local images and its agent joins", async () => {
    const t0 = Date.now();
    const up = await farm.compose(["up", "-d"], 10 * 60_000);
    assert.equal(up.code, 0, `docker-compose up failed:\n${up.stderr}`);
    const { caFile, apiToken } = await farm.credentials();
    cliEnv = { ...farm.env, DOCKYARD_SERVER: farm.grpcAddress, DOCKYARD_CA_FILE: caFile, DOCKYARD_TOKEN: apiToken };
    const agent = await waitFor(
      async () => {
        const r = await exec(CLI, ["agents", "--json"], cliEnv);
        const list = JSON.parse(r.stdout) as { name: string; state: string; labels: Record<string, string> }[];
        return list.find((a) => a.name === farm.agentName && a.state === "online");
      },
      { timeoutMs: 120_000, intervalMs: 500, message: `agent ${farm.agentName} online` },
    );
    assert.equal(agent.labels.compose, "true");
    console.log(`# compose farm up, agent online: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Every service but the two one-shot bootstrap steps runs; those exited 0.
    const ps = await farm.compose(["ps"]);
    for (const svc of ["server", "postgres", "nats", "agent"]) assert.match(ps.stdout, new RegExp(`_${svc}_1 .* Up`));
    for (const svc of ["secrets", "join"]) assert.match(ps.stdout, new RegExp(`_${svc}_1 .* Exit 0`));
  });

  test("runs the hello example to success on the compose agent", async () => {
    // The example's publish stage reads this secret; the CLI takes its value on stdin.
    const set = await exec("sh", ["-c", `printf tok_compose | "${CLI}" secret set hello-publish-token`], cliEnv);
    assert.equal(set.code, 0, set.stderr);
    const run = await exec(CLI, ["run", "--watch", path.join(REPO_ROOT, "examples/hello/dockyard.yml")], cliEnv);
    assert.equal(run.code, 0, `hello failed:\n${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /run .* succeeded/);
    assert.match(run.stdout, new RegExp(`report +running +\\(attempt 1 on ${farm.agentName}\\)`));
    assert.match(run.stdout, /all checks passed/);
    runId = UUID.exec(run.stdout)![0];
  });

  test("down -v leaves no container, network or volume behind", async () => {
    assert.ok(runId, "the hello run's id (the test before ran)");
    const project = `com.docker.compose.project=${farm.project}`;
    // Positive control: the same queries see the running farm.
    const before = await leftovers(project);
    assert.equal(before.containers.length, 6, `containers: ${before.containers.join(" ")}`);
    assert.equal(before.volumes.length, 5, `volumes: ${before.volumes.join(" ")}`);
    assert.equal(before.networks.length, 1);
    const down = await farm.compose(["down", "-v"], 5 * 60_000);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await leftovers(project), { containers: [], volumes: [], networks: [] });
    // The run's stage containers and workspace volume were the agent's to remove (run ended).
    await waitFor(
      async () => {
        const l = await leftovers(`dockyard.run=${runId}`);
        return l.containers.length + l.volumes.length === 0;
      },
      { timeoutMs: 30_000, message: "the hello run's containers and volume to be gone" },
    );
  });
});
