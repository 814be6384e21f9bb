// The shell executor's spawner: a small plain-JS Node process (no tsx, no
// dependencies) that starts stage shells for the agent. Why a separate process:
// fork() copies the parent's page tables, so spawning from the agent (about
// 140 MB resident) costs its event loop 2.5 ms on a fast machine and over 10 ms
// on a slow VM, per stage. This process is a third of that size, and it starts
// shells ahead of need: each waits for its script, and its stdout and stderr are
// already in the agent's hands, so starting a stage takes one message.
//
// Protocol (Node IPC, JSON):
//   helper -> { op: "shell", id, pid }  a waiting shell; its stdout is the message's handle
//   helper -> { op: "stderr", id }      ... and its stderr
//   agent  -> { op: "more" }            start one more shell than the pool keeps
//   agent  -> { op: "run", id, script } shell `id` runs `script` (a complete sh script)
//   agent  -> { op: "stop" }            end the waiting shells and exit
//   helper -> { op: "exit", id, code, signal }
//   helper -> { op: "error", message }  a shell could not be started
//
// Each shell runs in its own session (its pid is its process group), so the agent
// signals the whole group by pid. A waiting shell reads the path of its script from
// fd 3 (a socketpair: /dev/fd/3 cannot be opened, so the script itself goes in a file).
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

const WARM = Math.max(1, Number(process.env.DOCKYARD_SPAWNER_WARM ?? 2));
const scriptDir = process.env.DOCKYARD_SPAWNER_SCRIPT_DIR;
if (!scriptDir || !process.send) {
  process.stderr.write("dockyard spawner: start me from the agent (IPC channel and DOCKYARD_SPAWNER_SCRIPT_DIR required)\n");
  process.exit(2);
}
const shellEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? scriptDir };
// Scripts left by a crashed agent are stale; the directory is private to this agent.
rmSync(scriptDir, { recursive: true, force: true });
mkdirSync(scriptDir, { recursive: true, mode: 0o700 });

// `__dockyard_script` is unset by the script's first line, so stages never see it.
const WAIT_FOR_SCRIPT = 'IFS= read -r __dockyard_script <&3 || exit 0; exec 3<&-; . "$__dockyard_script"';

/** Shells handed to the agent and not yet given a script, by id. */
const waiting = new Map();
/** Shells running a script, by id. */
const running = new Map();
let nextId = 0;
/** Shells asked for beyond the pool ("more") and not yet started. */
let extra = 0;
let refillQueued = false;

function startShell() {
  const shell = spawn("/bin/sh", ["-c", WAIT_FOR_SCRIPT], {
    cwd: scriptDir,
    env: shellEnv,
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  if (shell.pid === undefined) {
    shell.once("error", (err) => process.send({ op: "error", message: `cannot start /bin/sh: ${err.message}` }));
    return false;
  }
  shell.on("error", (err) => process.stderr.write(`dockyard spawner: /bin/sh: ${err.message}\n`));
  const id = String(++nextId);
  waiting.set(id, shell);
  // Killed from outside while waiting: the agent learns it from the exit.
  shell.once("exit", (code, signal) => {
    if (waiting.delete(id) && process.connected) process.send({ op: "exit", id, code, signal });
  });
  // Handed over now, long before its script: the handles must be acknowledged (and this
  // process's copies closed) before the shell writes anything, or this process would
  // read, and drop, that output.
  process.send({ op: "shell", id, pid: shell.pid }, shell.stdout);
  process.send({ op: "stderr", id }, shell.stderr);
  return true;
}

function refill() {
  refillQueued = false;
  let idle = waiting.size;
  while (process.connected && (idle < WARM || extra > 0)) {
    if (!startShell()) return; // reported; the next request retries
    if (extra > 0) extra--;
    else idle++;
  }
}

/** Longest a refill waits while a shell is still waiting (see run). */
const CALM_REFILL_MS = 100;
let calmTimer = null;

function queueRefill() {
  if (refillQueued) return;
  refillQueued = true;
  clearTimeout(calmTimer);
  calmTimer = null;
  // After the current messages, so a burst of requests is answered before any spawn.
  setImmediate(refill);
}

/**
 * Refill later while a shell still waits: a spawn costs milliseconds of CPU, and right after
 * a run it would compete with the stage that just started (on two cores, it showed in the
 * dispatch latency). The stage's exit, or CALM_REFILL_MS, whichever comes first, triggers it.
 */
function queueCalmRefill() {
  if (waiting.size === 0 || extra > 0) return queueRefill();
  calmTimer ??= setTimeout(queueRefill, CALM_REFILL_MS);
}

function run(msg) {
  const shell = waiting.get(msg.id);
  if (!shell) return process.send({ op: "exit", id: msg.id, code: null, signal: "SIGKILL" });
  waiting.delete(msg.id);
  const file = path.join(scriptDir, `${msg.id}.sh`);
  try {
    writeFileSync(file, msg.script, { mode: 0o600 });
  } catch (err) {
    process.stderr.write(`dockyard spawner: cannot write the script of shell ${msg.id}: ${err.message}\n`);
    shell.kill("SIGKILL"); // reported to the agent as its exit
    return;
  }
  running.set(msg.id, shell);
  shell.removeAllListeners("exit");
  shell.once("exit", (code, signal) => {
    running.delete(msg.id);
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
    if (process.connected) process.send({ op: "exit", id: msg.id, code, signal });
    if (waiting.size < WARM) queueRefill();
  });
  shell.stdio[3].end(`${file}\n`);
  queueCalmRefill();
}

process.on("message", (msg) => {
  if (msg && msg.op === "run" && typeof msg.id === "string" && typeof msg.script === "string") run(msg);
  else if (msg && msg.op === "stop") stop();
  else if (msg && msg.op === "more") {
    extra++;
    queueRefill();
  } else process.stderr.write("dockyard spawner: ignoring malformed message\n");
});

// The agent is gone (or closes the executor): end every shell. Waiting ones would run an
// empty script anyway; running ones have nobody left to read their output or report their
// end, and the agent reports them lost when it comes back (the shell executor's way of
// reaping what a dead agent left behind).
function stop() {
  for (const shell of waiting.values()) shell.kill("SIGKILL");
  for (const shell of running.values()) {
    try {
      process.kill(-shell.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  process.exit(0);
}
process.on("disconnect", stop);
// Node defers "disconnect" while a handle it sent awaits the agent's acknowledgement, which
// never comes from an agent that closed or died: so the agent also says "stop" when it
// closes, and a dead agent shows as a new parent pid.
const agentPid = process.ppid;
// Only the agent ends this process (stop, disconnect, or its death): a Ctrl-C in the agent's
// terminal or a stop signal sent to its whole cgroup is the agent's to handle (it drains),
// and stages that are still running need this process to report their end.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => undefined);
setInterval(() => {
  if (process.ppid !== agentPid) stop();
}, 500).unref();

refill();
