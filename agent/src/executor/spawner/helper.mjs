// The shell spawner in plain Node, for hosts where the native `dy-spawn` is not
// built: same protocol, same behaviour (see agent/native/dy-spawn.c), but each
// shell costs a Node spawn. Plain JS (no tsx, no dependencies): it starts fast and
// stays small. Usage: node helper.mjs SCRIPT_DIR, talking over stdin/stdout.
import { spawn } from "node:child_process";
import { unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { constants } from "node:os";
import { Op, Ev, frame, parseFrames } from "./frames.mjs";

const scriptDir = process.argv[2];
if (!scriptDir) {
  process.stderr.write("usage: helper.mjs SCRIPT_DIR (started by the dockyard agent, which talks to it over stdin/stdout)\n");
  process.exit(2);
}

/** Stages by id: { shell, file, open (pipes not yet at EOF), exit (status once reaped) }. */
const stages = new Map();
const send = (ev, id, payload) => process.stdout.write(frame(ev, id, payload));

function int32s(a, b) {
  const out = Buffer.alloc(8);
  out.writeInt32BE(a, 0);
  out.writeInt32BE(b, 4);
  return out;
}

function finishIfDone(id, stage) {
  if (stage.open > 0 || !stage.exit) return;
  stages.delete(id);
  const { code, signal } = stage.exit;
  send(Ev.Exit, id, int32s(code ?? -1, signal ? constants.signals[signal] : 0));
}

function run(id, script) {
  const file = path.join(scriptDir, `${id}.sh`);
  try {
    writeFileSync(file, script, { mode: 0o600 });
  } catch (err) {
    return send(Ev.Error, id, Buffer.from(`cannot write the stage script: ${err.message}`));
  }
  const shell = spawn("/bin/sh", [file], { env: process.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  if (shell.pid === undefined) {
    shell.once("error", (err) => send(Ev.Error, id, Buffer.from(`cannot start /bin/sh: ${err.message}`)));
    return;
  }
  shell.on("error", () => undefined); // reported through its exit
  const stage = { shell, open: 2, exit: null };
  stages.set(id, stage);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(shell.pid);
  send(Ev.Started, id, out);
  for (const [pipe, ev] of [[shell.stdout, Ev.Stdout], [shell.stderr, Ev.Stderr]]) {
    pipe.on("data", (data) => send(ev, id, data));
    pipe.once("close", () => {
      stage.open--;
      finishIfDone(id, stage);
    });
  }
  shell.once("exit", (code, signal) => {
    try {
      process.kill(-shell.pid, "SIGKILL"); // leftovers must not keep the pipes open
    } catch {
      // the group is gone
    }
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
    stage.exit = { code, signal };
    finishIfDone(id, stage);
  });
}

function stop(code) {
  for (const { shell } of stages.values()) {
    try {
      process.kill(-shell.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  process.exit(code);
}

let pending = Buffer.alloc(0);
process.stdin.on("data", (data) => {
  pending = parseFrames(pending.length === 0 ? data : Buffer.concat([pending, data]), (op, id, body) => {
    const stage = stages.get(id);
    if (op === Op.Run) run(id, Buffer.from(body));
    else if (op === Op.Pause) for (const p of stage ? [stage.shell.stdout, stage.shell.stderr] : []) p.pause();
    else if (op === Op.Resume) for (const p of stage ? [stage.shell.stdout, stage.shell.stderr] : []) p.resume();
    else if (op === Op.Stop) stop(0);
    else {
      process.stderr.write(`helper.mjs: unknown op ${op} refused\n`);
      stop(2);
    }
  });
  if (pending.length > 32 * 1024 * 1024) stop(2);
});
// The agent is gone (or closed us): end every stage; nobody is left to read their output.
process.stdin.on("end", () => stop(0));
process.stdout.on("error", () => stop(0));
// Only the agent ends this process; running stages need it to report their end.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => undefined);
