// The agent's supervisor: a small process beside the agent that stops the agent's running
// stages when the agent no longer can, so a stage the server gives to another agent never
// runs twice. The agent dies (kill -9, crash): our stdin reaches EOF. The agent freezes
// (SIGSTOP, a stuck event loop): its pings stop. Either way we SIGKILL what it holds:
// containers through the Docker Engine API, shell stages by process group, session and
// tag (see ../executor/spawner/stage-kill.mjs). Plain Node, no dependencies.
//
// Usage: node supervisor.mjs DOCKER_HOST FREEZE_MS AGENT_PID, started by the agent (client.ts).
// Newline-delimited JSON both ways:
//   agent -> {"op":"hold","attemptId":"a","container":"dockyard-a","ttlMs":15000}
//            {"op":"hold","attemptId":"b","pgid":4711,"tag":"4700.3","ttlMs":15000}
//                                 an attempt's process runs; ttlMs is its lease TTL
//   agent -> {"op":"release","attemptId":"a"}   it ended (or the agent stopped it)
//   agent -> {"op":"kill","attemptId":"a"}      SIGKILL it now (the agent's lease fence ran out)
//   agent -> {"op":"ping"}        every 500 ms. An attempt is stopped once no ping came for
//                                 min(FREEZE_MS, ttlMs / 2): before the server, which waits a
//                                 lease TTL (and its agent-lost timeout) before giving the
//                                 stage away, so that timeout must be longer (15 s by default)
//   agent -> {"op":"sync","id":7} answered by `synced` once everything before it is done
//   agent -> {"op":"bye"}         graceful stop: forget every hold, exit without killing
//   supervisor -> {"ev":"killed","attemptId":"a","why":"frozen"|"gone"|"fenced"}
//                                 sent before the kill, so a `synced` after it, or an exit the
//                                 agent sees after it, comes later in the agent's reading
//   supervisor -> {"ev":"synced","id":7}
// After EOF it kills what it holds and exits; after a freeze it keeps serving (the agent may
// thaw). INT, TERM and HUP are ignored: stopping is the agent's decision. Orphaned (our parent
// is not AGENT_PID any more, but stdin is still open, say a leaked pipe), it acts as on EOF.
import http from "node:http";
import { readFileSync } from "node:fs";
import { killStage, startTicks } from "../executor/spawner/stage-kill.mjs";

const [dockerHost = "unix:///var/run/docker.sock", freezeArg, agentArg] = process.argv.slice(2);
const FREEZE_MS = Number(freezeArg) > 0 ? Number(freezeArg) : 4000;
/** Given, not read at start: the agent may be gone before this process got that far. */
const AGENT_PID = Number(agentArg) > 0 ? Number(agentArg) : process.ppid;
const docker = dockerHost.startsWith("unix://")
  ? { socketPath: dockerHost.slice("unix://".length) }
  : tcpTarget(dockerHost);

function tcpTarget(host) {
  const url = new URL(`http://${host.replace(/^tcp:\/\//, "")}`);
  return { host: url.hostname, port: Number(url.port || 2375) };
}

/** Held attempts by id: the hold message plus `leader` (start of the group leader at hold time). */
const held = new Map();
let lastPing = performance.now();
let exiting = false;

const log = (level, msg, fields = {}) =>
  process.stderr.write(
    `${JSON.stringify({ level, time: Date.now(), service: "dockyard-supervisor", pid: process.pid, ...fields, msg })}\n`,
  );
const send = (msg) => {
  if (process.stdout.writable) process.stdout.write(`${JSON.stringify(msg)}\n`);
};

/** POST /containers/NAME/kill?signal=KILL; 404 (gone) and 409 (not running) are fine. Retries twice. */
function killContainer(name, tries = 3) {
  return new Promise((resolve) => {
    const req = http.request(
      { ...docker, method: "POST", path: `/containers/${encodeURIComponent(name)}/kill?signal=KILL`, timeout: 5000 },
      (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 204 || res.statusCode === 404 || res.statusCode === 409) return resolve();
          log(50, "container kill refused", { container: name, status: res.statusCode });
          resolve(
            tries > 1 ? new Promise((r) => setTimeout(r, 300)).then(() => killContainer(name, tries - 1)) : undefined,
          );
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (err) => {
      log(50, "container kill failed", { container: name, err: err.message });
      resolve(
        tries > 1 ? new Promise((r) => setTimeout(r, 300)).then(() => killContainer(name, tries - 1)) : undefined,
      );
    });
    req.end();
  });
}

/** Announces, then stops one held attempt; resolves when the kill was delivered. */
function stop(h, why) {
  held.delete(h.attemptId);
  send({ ev: "killed", attemptId: h.attemptId, why });
  log(40, "stopping an attempt of the agent", { attemptId: h.attemptId, why, container: h.container, pgid: h.pgid });
  if (h.pgid > 0) {
    // The id may have been reused once the stage's leader is gone: kill the group only if its
    // leader is still the one we were told about, or gone (then the id stays reserved while
    // any member of the group or session lives).
    const now = startTicks(h.pgid);
    killStage(h.pgid, h.tag, { since: h.leader ?? 0, group: now === null || now === h.leader });
  } else if (h.tag) {
    killStage(0, h.tag, { group: false });
  }
  return h.container ? killContainer(h.container) : Promise.resolve();
}

/** The agent is gone: stop everything, then exit. */
function gone(why) {
  if (exiting) return;
  exiting = true;
  const done = Promise.all([...held.values()].map((h) => stop(h, "gone")));
  log(held.size > 0 ? 40 : 30, "agent gone; supervisor exiting", { why });
  const bail = setTimeout(() => process.exit(0), 10_000);
  done.finally(() => {
    clearTimeout(bail);
    process.exit(0);
  });
}

function handle(msg) {
  switch (msg.op) {
    case "ping":
      lastPing = performance.now();
      return;
    case "hold":
      if (typeof msg.attemptId !== "string") return log(50, "hold without attemptId refused");
      held.set(msg.attemptId, { ...msg, leader: msg.pgid > 0 ? startTicks(msg.pgid) : null });
      return;
    case "release":
      held.delete(msg.attemptId);
      return;
    case "kill": {
      const h = held.get(msg.attemptId);
      if (h) void stop(h, "fenced");
      return;
    }
    case "sync":
      return send({ ev: "synced", id: msg.id });
    case "bye":
      held.clear();
      exiting = true;
      return process.exit(0);
    default:
      log(50, "unknown message refused", { op: msg.op });
  }
}

let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text) => {
  const lines = (pending + text).split("\n");
  pending = lines.pop() ?? "";
  if (pending.length > 1 << 20) pending = ""; // not our agent talking
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      handle(JSON.parse(line));
    } catch (err) {
      log(50, "bad message refused", { err: err.message });
    }
  }
});
process.stdin.on("end", () => gone("stdin closed"));
process.stdin.on("error", () => gone("stdin failed"));
process.stdout.on("error", () => undefined); // the agent is gone; stdin's EOF says so
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => undefined);

function parentPid() {
  try {
    const stat = readFileSync("/proc/self/stat", "latin1");
    return Number(stat.slice(stat.lastIndexOf(") ") + 2).split(" ")[1]);
  } catch {
    return process.ppid;
  }
}

// Freeze check every 100 ms; orphan check every second. A tick late by over a second means we
// were stalled ourselves (say the whole host was suspended): read the pings that are waiting first.
let ticks = 0;
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  const stalled = now - lastTick > 1000;
  lastTick = now;
  if (exiting || stalled) return;
  if (++ticks % 10 === 1 && parentPid() !== AGENT_PID) return gone("orphaned");
  const silent = now - lastPing;
  for (const h of [...held.values()]) {
    const limit = Math.min(FREEZE_MS, Number(h.ttlMs) > 0 ? Number(h.ttlMs) / 2 : FREEZE_MS);
    if (silent > limit) void stop(h, "frozen");
  }
}, 100);
