// Replica lifecycle on a real engine: started on the service's network, healthy only after
// its check passed for min_healthy_time in a row, and the two ways it can fail (its check
// never passes, it exits) named with its log; stopped and removed idempotently.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type Dockerode from "dockerode";
import { BASE_IMAGE } from "../executor/docker-client";
import { connectEngine, uniq } from "../docker/environment-fixtures";
import {
  listReplicas,
  serviceNetwork,
  startReplica,
  stopReplica,
  waitReplicaHealthy,
  type HealthCheck,
} from "./replica";

const PORT = 8080;
const serve = (body: string) => [
  "sh",
  "-c",
  `echo starting ${body}; mkdir /www && echo ${body} > /www/index.html && exec httpd -f -p ${PORT} -h /www`,
];

describe("service replicas", { timeout: 120_000 }, () => {
  const service = `rep-${uniq()}`;
  let docker: Dockerode;
  const check = (over: Partial<HealthCheck>): HealthCheck => ({
    intervalMs: 100,
    timeoutMs: 1000,
    minHealthyMs: 400,
    ...over,
  });
  const spec = {
    service,
    owner: "agent-replica-test",
    image: BASE_IMAGE,
    env: { GREETING: "hi" },
    port: PORT,
    labels: { "dockyard.test": "replica" },
  };

  before(async () => {
    docker = await connectEngine();
  });
  after(async () => {
    for (const r of await listReplicas(docker, service)) await stopReplica(docker, r.containerId, 0);
    await docker
      .getNetwork(serviceNetwork(service))
      .remove()
      .catch(() => undefined);
  });

  const start = (revision: number, index: number, command: string[]) =>
    startReplica(docker, { ...spec, revision, index, command });

  it("is healthy once its HTTP or command check passed for min_healthy_time in a row, and is listed by its labels", async () => {
    const r = await start(1, 1, serve("v1"));
    assert.match(r.ip, /^\d+\.\d+\.\d+\.\d+$/);
    const t0 = Date.now();
    await waitReplicaHealthy(docker, r, check({ http: { path: "/index.html", status: 200 } }), Date.now() + 20_000);
    assert.ok(Date.now() - t0 >= 400, "not before min_healthy_time");
    await waitReplicaHealthy(docker, r, check({ command: ["test", "-f", "/www/index.html"] }), Date.now() + 20_000);
    const env = (await docker.getContainer(r.containerId).inspect()).Config.Env;
    assert.ok(env.includes("GREETING=hi"));
    assert.deepEqual(
      (await listReplicas(docker, service)).map((x) => [x.revision, x.index, x.running]),
      [[1, 1, true]],
    );
    await stopReplica(docker, r.containerId, 1000);
    await stopReplica(docker, r.containerId, 1000); // idempotent
    assert.deepEqual(await listReplicas(docker, service), []);
  });

  it("fails naming the check that never passed, or the exit code, with the end of its log", async () => {
    const sick = await start(2, 1, serve("v2"));
    await assert.rejects(
      waitReplicaHealthy(docker, sick, check({ http: { path: "/missing", status: 200 } }), Date.now() + 1500),
      (err: Error) => {
        assert.equal(err.name, "ReplicaError");
        assert.match(
          err.message,
          /replica dy-svc-rep-[0-9a-f]+-agent-re-r2-1 was not healthy for 400 ms in a row in time; last check: GET \/missing answered 404, expected 200/,
        );
        assert.match(err.message, /starting v2/);
        return true;
      },
    );
    const dead = await start(2, 2, ["sh", "-c", "echo cannot bind; sleep 1; exit 3"]);
    await assert.rejects(
      waitReplicaHealthy(docker, dead, check({ http: { path: "/", status: 200 } }), Date.now() + 20_000),
      (err: Error) => {
        assert.match(
          err.message,
          /replica dy-svc-rep-[0-9a-f]+-agent-re-r2-2 exited with code 3 before it was healthy/,
        );
        assert.match(err.message, /cannot bind/);
        return true;
      },
    );
  });
});
