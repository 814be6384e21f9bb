// `npm run demo` as a user runs it: twice in a row (the second run restarts the farm and
// releases the webapp again to the staging service it left running), the printed `export` line
// used from another directory, the staging service as `dockyard services` and a request show it,
// the continuous example's broken release caught by its journey's alert and rolled back, and
// `stop`, which ends every process the demo started, removes the service (replicas, network,
// proxies) and leaves any service it found running. Each demo here has its own state directory,
// ports, service addresses and NATS subject prefix beside any real demo; the first runs all three
// examples, then hello and webapp again; the second (its own daemons) only hello. Between the
// two, the first farm's web UI is checked and captured in Chromium (helpers/demo-pages.ts).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import Docker from "dockerode";
import { tempDir } from "@dockyard/testkit";
import { REPO_ROOT } from "../helpers/farm";
import {
  dockerAnswers,
  freePorts,
  listening,
  recordedPids,
  runDemo,
  runShell,
  running,
  sessionMembers,
} from "../helpers/demo";
import { waitFor } from "../helpers/wait";
import { captureDemoPages } from "../helpers/demo-pages";

const SHARED_DOCKER = "/tmp/dockyard-docker/docker.sock";
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
/** examples/webapp/services/staging.yml. */
const SERVICE = "staging";
const PROXY_PORT = 18480;
/** Beside a real demo's 127.0.0.1 and 127.0.0.2 (the service tests' too): the same proxy port binds again. */
const SERVICE_ADDRESSES = ["127.0.0.3", "127.0.0.4"];

interface ServiceJson {
  name: string;
  revision: number | null;
  health: string;
  hosts: { agent: string; expected: number; running: number; address: string | null; healthy: boolean }[];
}

/** The service's replicas and network on the shared engine, and live haproxy processes started from DIR. */
async function serviceLeftovers(dir: string) {
  const docker = new Docker({ socketPath: SHARED_DOCKER });
  const replicas = await docker.listContainers({ all: true, filters: { label: [`dockyard.service=${SERVICE}`] } });
  const networks = (await docker.listNetworks({ filters: { name: [`dy-svc-${SERVICE}`] } })).filter(
    (n) => n.Name === `dy-svc-${SERVICE}`,
  );
  const proxies = readdirSync("/proc").filter((e) => {
    if (!/^\d+$/.test(e)) return false;
    try {
      return (
        readFileSync(`/proc/${e}/comm`, "utf8").trim() === "haproxy" &&
        readFileSync(`/proc/${e}/cmdline`, "utf8").includes(dir)
      );
    } catch {
      return false;
    }
  });
  return {
    replicas: replicas.map((c) => c.Names[0] ?? c.Id),
    networks: networks.map((n) => n.Name),
    proxies,
  };
}

/** The webapp build (its run number) that the printed services table names. */
const buildOf = (out: string) =>
  Number(/examples\/webapp:(\d+)/.exec(out.slice(out.indexOf("The webapp's release")))?.[1]);

/** One HTTP GET (the app answers HTTP/1.0 and closes). */
async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/** What `dockyard ARGS --json` prints (a JSON array), run as the printed export line says. */
async function cliJson<T>(exportLine: string, args: string): Promise<T[]> {
  const cli = path.join(REPO_ROOT, "cli/bin/dockyard");
  const res = await runShell(`${exportLine.trim()}\n${cli} ${args} --json`, tempDir("cli"));
  assert.equal(res.code, 0, res.output);
  // The output has the shell's stderr too: the JSON array starts on a line of its own.
  const start = res.output.search(/^\[/m);
  assert.ok(start >= 0, res.output);
  return JSON.parse(res.output.slice(start, res.output.lastIndexOf("]") + 1)) as T[];
}

const servicesJson = (exportLine: string) => cliJson<ServiceJson>(exportLine, "services");

interface AlertJson {
  alertname: string;
  status: string;
  labels: Record<string, string>;
  rollback: { runId: string; service: string; revision: number | null } | null;
}

/**
 * The continuous example as the user sees it: the alert listed with the rollback of the break
 * run's update, the printed alert table, staging's history naming the alert, and the alert's
 * notification at the receiver.
 */
async function assertAlertLoop(exportLine: string, output: string, dir: string): Promise<void> {
  const breakRun = new RegExp(`continuous +run (${UUID.source})`).exec(output)?.[1];
  assert.ok(breakRun, output);
  const alerts = await cliJson<AlertJson>(exportLine, "alerts");
  const caught = alerts.find((a) => a.alertname === "DockyardJourneyFailing" && a.rollback?.runId === breakRun);
  assert.ok(caught, `dockyard alerts lists the alert that rolled run ${breakRun} back: ${JSON.stringify(alerts)}`);
  assert.equal(caught.rollback!.service, SERVICE);
  assert.equal(caught.labels.journey, "shop", JSON.stringify(caught.labels));
  assert.equal(caught.labels.service, SERVICE, JSON.stringify(caught.labels));
  // The heading, the table's header, then the alert's row.
  assert.match(
    output,
    /The continuous example's alert[^\n]*\n[^\n]*\n[^\n]*DockyardJourneyFailing[^\n]*rolled back staging/,
  );
  const history = await cliJson<{ revision: number; reason: string }>(exportLine, `services history ${SERVICE}`);
  assert.ok(
    history.some((h) => /alert DockyardJourneyFailing/.test(h.reason)),
    `staging's history names the alert: ${JSON.stringify(history)}`,
  );
  const notes = readFileSync(path.join(dir, "notifications.log"), "utf8");
  assert.match(notes, /staging: \S+ DockyardJourneyFailing /, "break.yml's `on: [alert]` notification arrived");
}

/** The staging service: healthy, at `revision`, its 3 replicas running on its hosts, each with an address. */
function assertStaging(list: ServiceJson[], revision: number): ServiceJson {
  const s = list.find((x) => x.name === SERVICE);
  assert.ok(s, `dockyard services lists ${SERVICE}: ${JSON.stringify(list)}`);
  assert.equal(s.revision, revision, JSON.stringify(s));
  assert.equal(s.health, "healthy", JSON.stringify(s));
  assert.equal(
    s.hosts.reduce((n, h) => n + h.running, 0),
    3,
    `3 replicas run: ${JSON.stringify(s.hosts)}`,
  );
  assert.equal(
    s.hosts.reduce((n, h) => n + h.expected, 0),
    3,
    `3 replicas expected: ${JSON.stringify(s.hosts)}`,
  );
  for (const h of s.hosts) {
    assert.ok(h.healthy, `${h.agent} is healthy: ${JSON.stringify(h)}`);
    assert.ok(h.agent.startsWith("demo-"), JSON.stringify(h));
    assert.ok(
      SERVICE_ADDRESSES.map((a) => `${a}:${PROXY_PORT}`).includes(h.address ?? ""),
      `${h.agent}'s proxy binds its agent's DOCKYARD_SERVICE_ADDRESS: ${h.address}`,
    );
  }
  return s;
}

/** The `curl http://ADDR/` lines the demo printed: each address answers from the app's given build. */
async function assertPrintedAddressesAnswer(output: string, build: number): Promise<void> {
  const printed = [...output.matchAll(/^ {2}curl http:\/\/(\S+)\/ /gm)].map((m) => m[1]!);
  assert.ok(printed.length > 0, `the demo prints the service's addresses:\n${output}`);
  for (const addr of printed) {
    assert.ok(addr.endsWith(`:${PROXY_PORT}`), addr);
    const res = await get(`http://${addr}/`);
    assert.equal(res.status, 200, `${addr}: ${res.body}`);
    assert.match(res.body, new RegExp(`^webapp ${build} \\(SQLite `), `${addr} answers from the app`);
    assert.equal((await get(`http://${addr}/health`)).body.trim(), "ok");
  }
}

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
    // gRPC, HTTP, then the Pushgateway, Alertmanager and Prometheus.
    const port = await freePorts(5);
    const env = {
      DOCKYARD_DEMO_DIR: dir,
      DOCKYARD_DEMO_PORT: String(port),
      DOCKYARD_DEMO_EXAMPLES: "hello webapp continuous",
      DOCKYARD_DEMO_SERVICE_ADDRESSES: SERVICE_ADDRESSES.join(" "),
      DOCKYARD_NATS_PREFIX: `t${randomBytes(4).toString("hex")}`,
    };
    after(() => runDemo(env, ["stop"]));
    // The service's replicas have fixed names on the shared engine: a real demo's would be taken for ours.
    assert.deepEqual(
      (await serviceLeftovers(dir)).replicas,
      [],
      `a '${SERVICE}' service runs on ${SHARED_DOCKER} (a real demo? 'npm run demo -- stop' first)`,
    );

    const first = await runDemo(env);
    assert.equal(first.code, 0, first.output);
    assert.match(
      first.output,
      new RegExp(
        `All 3 example pipelines succeeded:\\n  hello +run ${UUID.source}  succeeded\\n  webapp +run ${UUID.source}  succeeded\\n` +
          `  continuous +run ${UUID.source}  caught: DockyardJourneyFailing rolled staging back\\n`,
      ),
    );
    assert.match(first.output, /approved gate of run \S+ as the demo's admin/);
    assert.match(first.output, /The webapp's release runs as the service 'staging'/);
    const farm1 = recordedPids(dir);
    assert.deepEqual(
      [...farm1.keys()].sort(),
      ["agent-a", "agent-b", "alertmanager", "prometheus", "pushgateway", "receiver", "server"],
      "the shared services were running: the demo started none (the receiver is the notifications' webhook; " +
        "the monitoring is the continuous example's)",
    );
    for (const [name, pid] of farm1) assert.ok(running(pid), `${name} (${pid}) runs after the first demo`);
    // What the user sees: the service listed healthy with its replicas, and the printed address answering.
    const exportLine1 = first.output.split("\n").find((l) => l.trim().startsWith("export DOCKYARD_SERVER="));
    assert.ok(exportLine1, first.output);
    // The broken revision 2 was rolled back: staging is on revision 1 again, and answers.
    assertStaging(await servicesJson(exportLine1), 1);
    await assertPrintedAddressesAnswer(first.output, buildOf(first.output));
    await assertAlertLoop(exportLine1, first.output, dir);
    // The web UI on this farm: every main page shows what the demo made (the README's screenshots).
    assert.match(first.output, new RegExp(`web UI +http://127\\.0\\.0\\.1:${port + 1}/`));
    const webappRun = new RegExp(`webapp +run (${UUID.source})`).exec(first.output)?.[1];
    assert.ok(webappRun, first.output);
    await captureDemoPages({
      base: `http://127.0.0.1:${port + 1}`,
      token: readFileSync(path.join(dir, "api-token"), "utf8").trim(),
      webappRun,
      agents: ["demo-a", "demo-b"],
      service: SERVICE,
    });

    // Again while the farm runs: the old farm is stopped (the processes it recorded), a new one starts.
    // Again, with hello and webapp only: the rerun also stops the first demo's monitoring.
    const second = await runDemo({ ...env, DOCKYARD_DEMO_EXAMPLES: "hello webapp" });
    assert.equal(second.code, 0, second.output);
    assert.doesNotMatch(second.output, /port \d+ is in use/);
    const farm2 = recordedPids(dir);
    for (const [name, pid] of farm2) {
      assert.ok(running(pid), `${name} (${pid}) runs after the second demo`);
      assert.notEqual(pid, farm1.get(name), `${name} was restarted`);
    }
    await allGone(farm1);
    for (const p of [port + 2, port + 3, port + 4])
      assert.equal(await listening(p), false, `the first demo's monitoring port ${p} is free`);

    // The printed export line and commands, pasted into a shell in another directory.
    const exportLine = second.output.split("\n").find((l) => l.trim().startsWith("export DOCKYARD_SERVER="));
    assert.ok(exportLine, second.output);

    // The second release updated the service the first left running: revision 3 (the broken 2 was
    // rolled back), the second build.
    assert.equal(buildOf(second.output), buildOf(first.output) + 1, second.output);
    assertStaging(await servicesJson(exportLine), 3);
    await assertPrintedAddressesAnswer(second.output, buildOf(second.output));
    // Each release's notification reached the receiver on this machine.
    const notes = readFileSync(path.join(dir, "notifications.log"), "utf8");
    assert.match(notes, /webapp #\d+: staging is at revision 1\n/);
    assert.match(notes, /webapp #\d+: staging is at revision 3\n/);
    assert.match(exportLine, new RegExp(`DOCKYARD_CA_FILE=${dir}/server/pki/ca\\.crt `));
    const runsLine = second.output.split("\n").find((l) => / runs +# recent runs/.test(l));
    assert.ok(runsLine?.trim().startsWith(path.join(REPO_ROOT, "cli/bin/dockyard")), `absolute CLI path: ${runsLine}`);
    const helloRun = new RegExp(`hello +run (${UUID.source})`).exec(second.output)?.[1];
    const runs = await runShell(`${exportLine.trim()}\n${runsLine!.replace(/#.*/, "")}`, tempDir("elsewhere"));
    assert.equal(runs.code, 0, runs.output);
    assert.ok(helloRun && runs.output.includes(helloRun), `dockyard runs lists ${helloRun}:\n${runs.output}`);

    const stop = await runDemo(env, ["stop"]);
    assert.equal(stop.code, 0, stop.output);
    assert.match(stop.output, /removed the demo's services \(replicas, network, proxies\): staging/);
    await allGone(farm2);
    assert.equal(await listening(port), false, `port ${port} is free after stop`);
    assert.equal(await listening(port + 1), false, `port ${port + 1} is free after stop`);
    assert.deepEqual(
      await serviceLeftovers(dir),
      { replicas: [], networks: [], proxies: [] },
      "stop removed the service",
    );
    for (const a of ["a", "b"]) assert.equal(existsSync(path.join(dir, `agent-${a}`, "services", SERVICE)), false);
    // What the demo did not start stays up.
    await sharedServicesUp();
  });

  test("stop stops the NATS, dockerd (and its containerd) and registry that the demo started", async () => {
    await sharedServicesUp();
    const dir = tempDir("demo-own");
    const instance = `dt${randomBytes(4).toString("hex")}`;
    const engineRoot = `/tmp/dockyard-docker-${instance}`;
    const port = await freePorts(2);
    const natsPort = await freePorts(1);
    const registryPort = await freePorts(1);
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
