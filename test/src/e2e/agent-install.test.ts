// The release package's install.sh in a throwaway root (a mount namespace: test/src/helpers/
// install-root.ts): the files, modes, owners, user, group and unit it creates, the unit checked by
// systemd-analyze, the agent started the way the unit's ExecStart does (as its user, with its
// EnvironmentFile) coming online at a test farm with the host's facts as labels and running a
// stage, `dockyard agent --check` (all ok, then every problem named), the unit's ExecStop drain,
// then --uninstall (the state directory stays) and --purge.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, readlinkSync, statSync, existsSync, writeFileSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { tempDir } from "@dockyard/testkit";
import { dockerFromEnv } from "@dockyard/agent";
import { DOCKER_HOST, NATS_URL, freePort, startFarm, type Farm } from "../helpers/farm";
import { submit, waitForRun } from "../helpers/runs";
import { waitFor } from "../helpers/wait";
import {
  InstallRoot,
  buildReleasePackage,
  envFileOf,
  startAsUnit,
  unitSettings,
  type NsResult,
} from "../helpers/install-root";

const UNIT = "/etc/systemd/system/dockyard-agent.service";
const ENV_FILE = "/etc/dockyard/agent.env";
const STATE = "/var/lib/dockyard-agent";
const CLI = "/usr/local/bin/dockyard";

const mode = (p: string) => statSync(p).mode & 0o7777;

describe("install.sh in a throwaway root", { timeout: 240_000 }, () => {
  let farm: Farm;
  let root: InstallRoot;
  let pkg: string;
  let tokenFile: string;
  const name = `inst-${randomBytes(3).toString("hex")}`;
  let agent: ReturnType<typeof startAsUnit> | null = null;
  let agentExit: Promise<number | null>;

  const install = (...args: string[]): Promise<NsResult> => root.run([path.join(pkg, "install.sh"), ...args]);

  before(async () => {
    pkg = buildReleasePackage().dir;
    farm = await startFarm();
    root = await InstallRoot.create({ engineSees: [STATE] });
    tokenFile = path.join(tempDir("install-token"), "join-token");
    writeFileSync(tokenFile, `${farm.agentJoinToken}\n`, { mode: 0o600 });
  });

  after(async () => {
    if (agent && agent.exitCode === null) agent.kill("SIGKILL");
    await root?.close();
    await farm?.stop();
  });

  it("refuses bad flags with a message naming the flag, and installs nothing then", async () => {
    const cases: [string[], RegExp][] = [
      [["--token-file", tokenFile], /--server is required/],
      [["--server", "10.0.0.1", "--token-file", tokenFile], /--server: '10\.0\.0\.1' is not host:port/],
      [["--server", "10.0.0.1:70000", "--token-file", tokenFile], /port 70000 .* is not 1-65535/],
      [["--server", "h:1", "--token-file", "/nonexistent"], /--token-file: cannot read '\/nonexistent'/],
      [["--server", "h:1", "--token-file", tokenFile, "--capacity", "0"], /--capacity: '0' is not a whole number/],
      [["--server", "h:1", "--token-file", tokenFile, "--labels", "a b=c"], /--labels: key 'a b'/],
      [["--server", "h:1", "--token-file", tokenFile, "--labels", "novalue"], /'novalue' is not key=value/],
      [["--server", "h:1", "--bogus"], /unknown argument '--bogus'/],
      [["--purge"], /--purge goes with --uninstall/],
    ];
    for (const [args, message] of cases) {
      const r = await install(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
    }
    assert.deepEqual(readdirSync(root.host("/opt")), [], "nothing installed by a refused call");
    assert.equal(root.user("dockyard"), null);
  });

  it("installs the package, user, group, env file, state directory and a unit systemd-analyze accepts", async () => {
    const r = await install(
      ...["--server", farm.server.grpcAddress, "--token-file", tokenFile],
      ...["--labels", "disk=ssd,os=custom-os", "--capacity", "3", "--name", name, "--nats", NATS_URL],
      ...[
        "--executor",
        "docker",
        "--env",
        `DOCKYARD_NATS_PREFIX=${farm.prefix}`,
        "--env",
        `DOCKER_HOST=${DOCKER_HOST}`,
      ],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /systemd is not running on this host/);
    const version = readFileSync(path.join(pkg, "VERSION"), "utf8").split(" ")[0]!;
    assert.equal(readlinkSync(root.host("/opt/dockyard/current")), version);
    const bin = root.host(`/opt/dockyard/${version}/bin/dockyard`);
    assert.equal(statSync(bin).uid, 0);
    assert.equal(mode(bin) & 0o022, 0, "only root may change the code the agent runs");
    assert.equal(readlinkSync(root.host(CLI)), "/opt/dockyard/current/bin/dockyard");

    const user = root.user("dockyard");
    assert.ok(user, "user dockyard exists");
    assert.equal(user.shell, "/usr/sbin/nologin");
    assert.equal(user.home, STATE);
    assert.ok(user.uid < 1000, `a system user (uid ${user.uid})`);
    assert.ok(root.group("docker")?.members.includes("dockyard"), "dockyard is in the docker group");

    const env = statSync(root.host(ENV_FILE));
    assert.deepEqual([env.uid, env.mode & 0o777], [0, 0o600]);
    const vars = envFileOf(readFileSync(root.host(ENV_FILE), "utf8"));
    assert.equal(vars.DOCKYARD_SERVER_URL, farm.server.grpcAddress);
    assert.equal(vars.DOCKYARD_JOIN_TOKEN, farm.agentJoinToken);
    assert.equal(vars.DOCKYARD_AGENT_CAPACITY, "3");
    assert.equal(vars.DOCKYARD_AGENT_STATE_DIR, STATE);
    const state = statSync(root.host(STATE));
    assert.deepEqual([state.uid, state.gid, state.mode & 0o777], [user.uid, user.gid, 0o700]);

    const unit = unitSettings(readFileSync(root.host(UNIT), "utf8"));
    assert.equal(mode(root.host(UNIT)), 0o644);
    assert.deepEqual(
      [unit.User, unit.ExecStart, unit.EnvironmentFile, unit.KillMode],
      ["dockyard", "/opt/dockyard/current/bin/dockyard agent", ENV_FILE, "control-group"],
    );
    const verify = await root.run(["systemd-analyze", "verify", UNIT]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), "", "systemd-analyze has nothing to say about the unit");

    // Again without flags (an upgrade with the same package): nothing changes, agent.env is kept.
    const before = readFileSync(root.host(ENV_FILE), "utf8");
    const again = await install();
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /holds this package already/);
    assert.match(again.stdout, /kept \/etc\/dockyard\/agent\.env/);
    assert.equal(readFileSync(root.host(ENV_FILE), "utf8"), before);
    assert.equal(root.user("dockyard")?.uid, user.uid);

    // An upgrade: the next version's package (a copy with another VERSION), one flag given.
    const next = path.join(tempDir("install-next"), "dockyard-next");
    execFileSync("cp", ["-a", pkg, next]);
    writeFileSync(path.join(next, "VERSION"), "0.99.0 upgrade\n");
    const up = await root.run([path.join(next, "install.sh"), "--capacity", "4"]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(
      up.stdout,
      new RegExp(`/opt/dockyard/current -> 0\\.99\\.0 \\(was ${version.replaceAll(".", "\\.")}\\)`),
    );
    assert.equal(readlinkSync(root.host("/opt/dockyard/current")), "0.99.0");
    assert.deepEqual(
      readdirSync(root.host("/opt/dockyard")).sort(),
      ["0.99.0", version, "current"].sort(),
      "the previous version stays",
    );
    const upgraded = envFileOf(readFileSync(root.host(ENV_FILE), "utf8"));
    assert.deepEqual(upgraded, { ...vars, DOCKYARD_AGENT_CAPACITY: "4" }, "only the given setting changed");
  });

  it("the agent started as the unit does comes online with the host's facts as labels and runs a stage", async () => {
    agent = startAsUnit(root, UNIT);
    let log = "";
    agent.stdout!.on("data", (d: Buffer) => (log += d.toString()));
    agent.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    agentExit = new Promise((r) => agent!.once("exit", (code) => r(code)));
    const listed = await waitFor(
      async () => {
        const r = await root.run([CLI, "--server", farm.server.grpcAddress, "--ca", farm.caFile, "agents", "--json"], {
          ...process.env,
          DOCKYARD_TOKEN: farm.apiToken,
        });
        const agents = JSON.parse(r.stdout || "[]") as {
          name: string;
          state: string;
          labels: Record<string, string>;
        }[];
        return agents.find((a) => a.name === name && a.state === "online");
      },
      { timeoutMs: 30_000, intervalMs: 300, message: `agent ${name} online (log: ${log.slice(-2000)})` },
    );
    const engine = await dockerFromEnv({ DOCKER_HOST }).version();
    const { labels } = listed;
    assert.deepEqual(
      [labels.disk, labels.os, labels.arch, labels.cpus, labels.docker],
      ["ssd", "custom-os", process.arch, String(os.availableParallelism()), engine.Version],
      "the given labels add to and override the host's facts",
    );
    assert.match(labels.memory ?? "", /^\d+(\.\d)?$/);
    assert.match(labels.distro ?? "", /^debian-\d+/);

    const runId = await submit(
      farm.client,
      "name: installed\nstages:\n  hello: { image: dockyard/busybox:1, command: 'echo installed-agent-$((6*7))' }\n",
    );
    const run = await waitForRun(farm.client, runId, 60_000);
    assert.equal(
      run.state,
      "succeeded",
      JSON.stringify(run.stages, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
    );
    const { rows } = await farm.pg.query<{ name: string }>(
      "select ag.name from attempts a join agents ag on ag.id = a.agent_id join stages s on s.id = a.stage_id where s.run_id = $1",
      [runId],
    );
    assert.deepEqual(
      rows.map((r) => r.name),
      [name],
    );
  });

  it("agent --check prints ok for each check on a working farm, and names every problem on a broken one", async () => {
    const good = await root.run([CLI, "agent", "--check", "--env-file", ENV_FILE]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    for (const check of ["config", "docker", "ca", "server", "nats"]) {
      assert.match(good.stdout, new RegExp(`^${check}\\s+ok\\s`, "m"), good.stdout);
    }
    assert.match(good.stdout, /all checks passed/);

    // The same agent.env with a wrong CA pin, a NATS address nothing listens on and no engine socket.
    const broken = path.join(tempDir("install-check"), "agent.env");
    const deadNats = `nats://127.0.0.1:${await freePort()}`;
    const vars = {
      ...envFileOf(readFileSync(root.host(ENV_FILE), "utf8")),
      DOCKYARD_CA_FINGERPRINT: "ab".repeat(32),
      DOCKYARD_NATS_URL: deadNats,
      DOCKER_HOST: "unix:///nonexistent/docker.sock",
    };
    writeFileSync(
      broken,
      Object.entries(vars)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(""),
    );
    const bad = await root.run([CLI, "agent", "--check", "--env-file", broken]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(
      bad.stdout,
      /^docker\s+FAIL\s+cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock: no such socket/m,
    );
    assert.match(
      bad.stdout,
      new RegExp(
        `^ca\\s+FAIL\\s+the server at ${farm.server.grpcAddress} does not present the pinned CA ${"ab".repeat(32)}`,
        "m",
      ),
    );
    assert.match(
      bad.stdout,
      new RegExp(`^nats\\s+FAIL\\s+cannot connect to NATS at ${deadNats}: connection refused`, "m"),
    );
    assert.match(bad.stdout, /^config\s+ok/m);
    assert.match(bad.stdout, /3 of 5 checks failed/);

    // A server address nothing listens on.
    const gone = `127.0.0.1:${await freePort()}`;
    const down = await root.run([CLI, "agent", "--check", "--env-file", ENV_FILE, "--server", gone]);
    assert.equal(down.code, 1);
    assert.match(
      down.stdout,
      new RegExp(`^server\\s+FAIL\\s+cannot reach the server at ${gone}: connection refused`, "m"),
    );
  });

  it("uninstall refuses while the agent runs; the unit's ExecStop drains it; --uninstall keeps the state, --purge not", async () => {
    const refused = await install("--uninstall");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /processes of user dockyard still run/);

    // ExecStop as systemd runs it: MAINPID in its environment, $$ unescaped to $.
    const stop = unitSettings(readFileSync(root.host(UNIT), "utf8")).ExecStop!;
    const script = /^\/bin\/sh -c '(.*)'$/.exec(stop)?.[1]?.replaceAll("$$", "$");
    assert.ok(script, `ExecStop is a sh -c line: ${stop}`);
    const stopper = spawn("/bin/sh", ["-c", script], { env: { MAINPID: String(agent!.pid), PATH: process.env.PATH } });
    const stopped = new Promise((r) => stopper.once("exit", r));
    assert.equal(await agentExit, 0, "the drained agent exits 0");
    assert.equal(await stopped, 0, "ExecStop returns once the agent is gone");

    const files = [ENV_FILE, UNIT, "/opt/dockyard", CLI];
    const r = await install("--uninstall");
    assert.equal(r.code, 0, r.stderr);
    for (const f of files) assert.equal(existsSync(root.host(f)), false, `${f} removed`);
    assert.equal(root.user("dockyard"), null);
    assert.equal(root.group("dockyard"), null);
    assert.ok(root.group("docker"), "the docker group stays");
    assert.ok(existsSync(root.host(`${STATE}/agent.key`)) || readdirSync(root.host(STATE)).length > 0, "state kept");
    assert.match(r.stdout, /kept \/var\/lib\/dockyard-agent/);

    const purge = await install("--uninstall", "--purge");
    assert.equal(purge.code, 0, purge.stderr);
    assert.equal(existsSync(root.host(STATE)), false);
    const twice = await install("--uninstall");
    assert.match(twice.stdout, /removed: nothing/);
  });
});
