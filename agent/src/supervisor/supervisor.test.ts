// The agent's supervisor with real processes and a real Docker engine: the protocol spoken
// by hand (so the test can play a dead or frozen agent), then the client class.
import assert from "node:assert/strict";
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type Dockerode from "dockerode";
import pino from "pino";
import { BASE_IMAGE, dockerFromEnv, DEFAULT_DOCKER_HOST } from "../executor/docker-client.js";
import { Supervisor } from "./client.js";

const SUPERVISOR = fileURLToPath(new URL("./supervisor.mjs", import.meta.url));
const DOCKER_HOST = process.env.DOCKER_HOST?.trim() || DEFAULT_DOCKER_HOST;

type Proc = ChildProcessByStdio<Writable, Readable, null>;

/** The supervisor, with what it printed so far. */
function startSupervisor(freezeMs: number): {
  proc: Proc;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
} {
  const proc = spawn(process.execPath, [SUPERVISOR, DOCKER_HOST, String(freezeMs), String(process.pid)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines: Record<string, unknown>[] = [];
  let rest = "";
  proc.stdout.setEncoding("utf8");
  proc.stdout.on("data", (t: string) => {
    const parts = (rest + t).split("\n");
    rest = parts.pop()!;
    for (const p of parts) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { proc, lines, exited };
}

const tell = (proc: Proc, msg: object) => proc.stdin.write(`${JSON.stringify(msg)}\n`);

/** `sleep 300` in its own session (pid = pgid), optionally tagged. */
function sleeper(tag?: string): number {
  const env = tag ? { PATH: process.env.PATH, DOCKYARD_SPAWN_TAG: tag } : { PATH: process.env.PATH };
  const child = spawn("sleep", ["300"], { detached: true, stdio: "ignore", env });
  child.unref();
  return child.pid!;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "latin1").includes(") Z ");
  } catch {
    return false;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("supervisor process", () => {
  let docker: Dockerode;
  const containers: string[] = [];
  before(async () => {
    docker = dockerFromEnv();
    await docker.ping().catch((err: Error) => {
      throw new Error(
        `dockerd does not answer at ${DOCKER_HOST} (bash scripts/docker/start-dockerd.sh): ${err.message}`,
      );
    });
  });
  after(async () => {
    for (const name of containers)
      await docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => undefined);
  });

  async function sleepingContainer(): Promise<string> {
    const name = `dockyard-supervisor-test-${randomBytes(4).toString("hex")}`;
    containers.push(name);
    const c = await docker.createContainer({
      name,
      Image: BASE_IMAGE,
      Cmd: ["sleep", "300"],
      HostConfig: { Init: true },
    });
    await c.start();
    return name;
  }
  const running = async (name: string) => (await docker.getContainer(name).inspect()).State.Running;

  it("stops the process groups, tagged processes and containers it holds when its stdin closes, then exits", async () => {
    const { proc, lines, exited } = startSupervisor(4000);
    const group = sleeper();
    const tag = `test.${randomBytes(4).toString("hex")}`;
    const tagged = sleeper(tag);
    const untagged = sleeper(`${tag}0`); // a tag that merely starts the same: not ours
    const container = await sleepingContainer();
    tell(proc, { op: "hold", attemptId: "g", pgid: group, ttlMs: 15000 });
    tell(proc, { op: "hold", attemptId: "t", tag, ttlMs: 15000 });
    tell(proc, { op: "hold", attemptId: "c", container, ttlMs: 15000 });
    tell(proc, { op: "hold", attemptId: "r", pgid: 1 << 22, ttlMs: 15000 }); // released below: left alone
    tell(proc, { op: "release", attemptId: "r" });
    tell(proc, { op: "sync", id: 1 });
    await waitUntil(() => lines.some((l) => l.ev === "synced"));
    assert.ok(alive(group) && alive(tagged) && (await running(container)), "all alive while the agent is");
    const closedAt = Date.now();
    proc.stdin.end();
    assert.equal(await exited, 0);
    const exitMs = Date.now() - closedAt;
    assert.deepEqual(
      lines
        .filter((l) => l.ev === "killed")
        .map((l) => [l.attemptId, l.why])
        .sort(),
      [
        ["c", "gone"],
        ["g", "gone"],
        ["t", "gone"],
      ],
    );
    await waitUntil(() => !alive(group) && !alive(tagged));
    assert.equal(await running(container), false);
    assert.ok(alive(untagged), "an exact tag match only");
    killQuietly(untagged);
    assert.ok(exitMs < 3000, `exited ${exitMs} ms after EOF`);
  });

  it("stops an attempt once pings stop for min(FREEZE_MS, ttl/2), and keeps serving", async () => {
    const { proc, lines, exited } = startSupervisor(1200);
    const [longTtl, shortTtl, later] = [sleeper(), sleeper(), sleeper()];
    tell(proc, { op: "hold", attemptId: "long", pgid: longTtl, ttlMs: 60_000 }); // limit 1200
    tell(proc, { op: "hold", attemptId: "short", pgid: shortTtl, ttlMs: 1000 }); // limit 500
    // While the agent pings, nothing happens, well past both limits.
    let frozenAt = 0;
    let pings = 0;
    const pinger = setInterval(() => {
      tell(proc, { op: "ping" });
      pings++;
      frozenAt = Date.now(); // the last ping the supervisor gets
    }, 100);
    // Twenty pings, 100 ms apart: well past both limits (1.2 s and 0.5 s) since the holds began.
    await waitUntil(() => pings >= 20);
    assert.ok(alive(longTtl) && alive(shortTtl), "pings keep the holds alive");
    assert.equal(lines.filter((l) => l.ev === "killed").length, 0);
    clearInterval(pinger);
    await waitUntil(() => !alive(shortTtl));
    const shortMs = Date.now() - frozenAt;
    await waitUntil(() => !alive(longTtl));
    const longMs = Date.now() - frozenAt;
    assert.ok(shortMs >= 480 && shortMs < 1100, `short ttl stopped ${shortMs} ms after the last ping`);
    assert.ok(longMs >= 1180 && longMs < 2000, `long ttl stopped ${longMs} ms after the last ping`);
    assert.deepEqual(
      lines.filter((l) => l.ev === "killed").map((l) => [l.attemptId, l.why]),
      [
        ["short", "frozen"],
        ["long", "frozen"],
      ],
    );
    // Thawed: it still serves, and new holds are protected by the pings again.
    tell(proc, { op: "ping" });
    tell(proc, { op: "hold", attemptId: "later", pgid: later, ttlMs: 60_000 });
    tell(proc, { op: "sync", id: 2 });
    await waitUntil(() => lines.some((l) => l.ev === "synced" && l.id === 2));
    assert.ok(alive(later));
    proc.stdin.end();
    assert.equal(await exited, 0);
    await waitUntil(() => !alive(later));
  });

  it("exits on bye without killing what it held", async () => {
    const { proc, exited } = startSupervisor(4000);
    const pid = sleeper();
    tell(proc, { op: "hold", attemptId: "kept", pgid: pid, ttlMs: 15000 });
    tell(proc, { op: "bye" });
    assert.equal(await exited, 0);
    assert.ok(alive(pid), "handed over on purpose, so left alone (its positive control: the EOF test)");
    killQuietly(pid);
  });

  it("ignores INT, TERM and HUP", async () => {
    const { proc, lines, exited } = startSupervisor(4000);
    tell(proc, { op: "sync", id: 3 }); // answered once it is up (and its handlers are)
    await waitUntil(() => lines.some((l) => l.ev === "synced" && l.id === 3));
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) proc.kill(signal);
    tell(proc, { op: "sync", id: 4 });
    await waitUntil(() => lines.some((l) => l.ev === "synced" && l.id === 4));
    proc.stdin.end();
    assert.equal(await exited, 0);
  });

  it("acts as on EOF when orphaned while something else keeps its stdin open", async () => {
    const pid = sleeper();
    // bash starts the supervisor behind a pipe, hands the pipe to a background sleep too, holds
    // the sleeper, and is killed: the supervisor's stdin stays open, but its parent is gone.
    const script = `exec 3> >(exec ${JSON.stringify(process.execPath)} ${JSON.stringify(SUPERVISOR)} ${DOCKER_HOST} 4000 $$ >/dev/null)
      echo '{"op":"hold","attemptId":"o","pgid":${pid},"ttlMs":60000}' >&3
      sleep 30 & echo "keeper $!"; sleep 30`;
    const bash = spawn("bash", ["-c", script], { stdio: ["ignore", "pipe", "inherit"] });
    const keeper = await new Promise<number>((resolve) =>
      bash.stdout.once("data", (d: Buffer) => resolve(Number(/keeper (\d+)/.exec(d.toString())![1]))),
    );
    // Nobody pings, so the hold would be freeze-stopped after 4 s: the orphan check must be faster.
    bash.kill("SIGKILL");
    const start = Date.now();
    await waitUntil(() => !alive(pid), 3000);
    assert.ok(Date.now() - start < 2500, `stopped ${Date.now() - start} ms after the parent died`);
    killQuietly(keeper);
  });
});

describe("Supervisor client", () => {
  const log = pino({ level: "silent" });

  it("tells the holder when the supervisor stopped its attempt, answers syncs, and on close leaves holds alone", async () => {
    // Pings only at start: the supervisor takes the agent for frozen after 300 ms.
    const frozen = new Supervisor({ dockerHost: DOCKER_HOST, log, freezeMs: 300, pingMs: 60_000 });
    frozen.start();
    const pid = sleeper();
    const killed: string[] = [];
    frozen.hold("a1", { pgid: pid }, 60_000, () => killed.push("a1"));
    // Polled: the supervisor's pipes are unreferenced (they never keep an agent alive).
    await waitUntil(() => killed.length > 0);
    assert.deepEqual(killed, ["a1"]);
    await waitUntil(() => !alive(pid));
    await frozen.sync();
    await frozen.close();

    const live = new Supervisor({ dockerHost: DOCKER_HOST, log });
    live.start();
    const kept = sleeper();
    let called = false;
    live.hold("a2", { pgid: kept }, 60_000, () => (called = true));
    await live.sync();
    const supervisorPid = live.pid!;
    await live.close();
    assert.ok(!alive(supervisorPid), "the supervisor exited");
    assert.ok(alive(kept) && !called, "a graceful close kills nothing");
    killQuietly(kept);
  });

  it("starts the supervisor again when it dies, and resends its holds", async () => {
    const sup = new Supervisor({ dockerHost: DOCKER_HOST, log, freezeMs: 400, pingMs: 60_000 });
    sup.start();
    const first = sup.pid!;
    const pid = sleeper();
    let killed = false;
    sup.hold("b1", { pgid: pid }, 60_000, () => (killed = true));
    process.kill(first, "SIGKILL"); // before its freeze limit: this one never stops anything
    await waitUntil(() => sup.pid !== undefined && sup.pid !== first);
    await waitUntil(() => killed); // the new one holds b1 too (and, with no pings, stops it)
    await waitUntil(() => !alive(pid));
    await sup.close();
  });
});
