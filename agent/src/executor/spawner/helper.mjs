// The shell executor's spawner: a small plain-JS Node process (no tsx, no
// dependencies) that starts stage shells for the agent. Why a separate process:
// fork() copies the parent's page tables, so spawning from the agent (about
// 140 MB resident) costs its event loop 2.5 ms on a fast machine and over 10 ms
// on a slow VM, per stage. This process is a third of that size, and it keeps a
// few shells already started, so a stage only has to hand one its script.
//
// Protocol (Node IPC, JSON), per id:
//   agent -> { op: "run", id, script }   run `script` (a complete sh script)
//   helper -> { op: "stdout", id, pid }  with the shell's stdout as the message's handle
//   helper -> { op: "stderr", id }       with its stderr as the handle
//   agent -> { op: "go", id }            both pipes arrived: the shell may start
//   helper -> { op: "exit", id, code, signal }
//   or { op: "failed", id, message } instead of all three when no shell could start
//
// Each shell runs in its own session (its pid is its process group), so the agent
// signals the whole group by pid. A waiting shell reads the path of its script from
// fd 3 (a socketpair: /dev/fd/3 cannot be opened, so the script itself goes in a file).
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

const WARM = Math.max(0, Number(process.env.DOCKYARD_SPAWNER_WARM ?? 2));
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

/** @type {import("node:child_process").ChildProcess[]} */
const warm = [];
let refillQueued = false;
/** Shells holding a script, waiting for the agent's "go". */
const ready = new Map();

function startShell() {
  const shell = spawn("/bin/sh", ["-c", WAIT_FOR_SCRIPT], {
    cwd: scriptDir,
    env: shellEnv,
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  // A failed spawn shows as an undefined pid (handled by the callers); the event would crash us.
  shell.on("error", (err) => process.stderr.write(`dockyard spawner: /bin/sh: ${err.message}\n`));
  return shell;
}

function refill() {
  refillQueued = false;
  while (warm.length < WARM && process.connected) {
    const shell = startShell();
    if (shell.pid === undefined) return; // reported by its error event; the next run retries
    // A warm shell that dies on its own (killed from outside) leaves the pool.
    shell.once("exit", () => {
      const i = warm.indexOf(shell);
      if (i >= 0) warm.splice(i, 1);
    });
    warm.push(shell);
  }
}

function queueRefill() {
  if (refillQueued) return;
  refillQueued = true;
  // After the current messages, so a burst of requests is answered before any refill.
  setImmediate(refill);
}

function run(msg) {
  const file = path.join(scriptDir, `${msg.id}.sh`);
  let shell;
  try {
    writeFileSync(file, msg.script, { mode: 0o600 });
    shell = warm.shift() ?? startShell();
    if (shell.pid === undefined) throw new Error("cannot start /bin/sh");
  } catch (err) {
    process.send({ op: "failed", id: msg.id, message: err.message });
    return;
  }
  shell.removeAllListeners("exit");
  shell.once("exit", (code, signal) => {
    ready.delete(msg.id);
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
    if (process.connected) process.send({ op: "exit", id: msg.id, code, signal });
  });
  // The script goes to the shell only on "go", once the agent holds both pipes: until
  // the agent acknowledges a handle, this process still reads from it (and drops what
  // it reads).
  ready.set(msg.id, { shell, file });
  process.send({ op: "stdout", id: msg.id, pid: shell.pid }, shell.stdout);
  process.send({ op: "stderr", id: msg.id }, shell.stderr);
}

function go(msg) {
  const r = ready.get(msg.id);
  if (!r) return;
  ready.delete(msg.id);
  r.shell.stdio[3].end(`${r.file}\n`);
  // Only now: a spawn blocks this process for milliseconds, and the handles above must not wait.
  queueRefill();
}

process.on("message", (msg) => {
  const id = msg && typeof msg.id === "string" && /^\d{1,16}$/.test(msg.id);
  if (id && msg.op === "run" && typeof msg.script === "string") run(msg);
  else if (id && msg.op === "go") go(msg);
  else process.stderr.write(`dockyard spawner: ignoring malformed message\n`);
});

// The agent is gone: idle shells would run an empty script anyway; end them now.
process.on("disconnect", () => {
  for (const shell of warm) shell.kill("SIGKILL");
  process.exit(0);
});

refill();
