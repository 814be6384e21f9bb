// The shell spawner in plain Node, for hosts where the native `dy-spawn` is not
// built: same protocol, same behaviour (see agent/native/dy-spawn.c), but each
// shell costs a Node spawn. Plain JS (no tsx, no dependencies): it starts fast and
// stays small. Usage: node helper.mjs SCRIPT_DIR, talking over stdin/stdout.
import { spawn } from 'node:child_process';
import { unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { constants } from 'node:os';
import { Op, Ev, frame, parseFrames } from './frames.mjs';
import { forksSoFar, killStage, startTicks } from './stage-kill.mjs';

const scriptDir = process.argv[2];
if (!scriptDir) {
  process.stderr.write(
    'usage: helper.mjs SCRIPT_DIR (started by the dockyard agent, which talks to it over stdin/stdout)\n',
  );
  process.exit(2);
}

/** Stages by id: { shell, since, open (pipes not yet at EOF), paused, exit (status once reaped), cut }. */
const stages = new Map();
/** How long the pipes may stay open once the shell is gone and its leftovers were killed. */
const DRAIN_MS = 200;
/** The stage's tag, as the spawner client exports it in the script (see stage-kill.mjs). */
const tagOf = (id) => `${process.pid}.${id}`;
const send = (ev, id, payload) => process.stdout.write(frame(ev, id, payload));

function int32s(a, b) {
  const out = Buffer.alloc(8);
  out.writeInt32BE(a, 0);
  out.writeInt32BE(b, 4);
  return out;
}

function finishIfDone(id, stage) {
  if (stage.open > 0 || !stage.exit) return;
  clearTimeout(stage.cut);
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
  const shell = spawn('/bin/sh', [file], { env: process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (shell.pid === undefined) {
    shell.once('error', (err) => send(Ev.Error, id, Buffer.from(`cannot start /bin/sh: ${err.message}`)));
    return;
  }
  shell.on('error', () => undefined); // reported through its exit
  const stage = {
    shell,
    since: startTicks(shell.pid) ?? 0,
    forks: forksSoFar(),
    open: 2,
    paused: false,
    exit: null,
    cut: undefined,
  };
  stages.set(id, stage);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(shell.pid);
  send(Ev.Started, id, out);
  for (const [pipe, ev] of [
    [shell.stdout, Ev.Stdout],
    [shell.stderr, Ev.Stderr],
  ]) {
    pipe.on('data', (data) => send(ev, id, data));
    pipe.once('close', () => {
      stage.open--;
      finishIfDone(id, stage);
    });
  }
  shell.once('exit', (code, signal) => {
    // Leftovers must not keep the pipes open: its group, its session, what carries its tag.
    killStage(shell.pid, tagOf(id), { since: stage.since, forks: stage.forks });
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
    stage.exit = { code, signal };
    armCutOff(id, stage);
    finishIfDone(id, stage);
  });
}

/** A process we could not find may still hold the pipes: stop waiting for them after DRAIN_MS (unpaused). */
function armCutOff(id, stage) {
  clearTimeout(stage.cut);
  const cut = () => {
    if (stage.paused || !stages.has(id)) return; // re-armed on resume
    for (const pipe of [stage.shell.stdout, stage.shell.stderr]) pipe.destroy(); // "close" counts them
  };
  // Through one more poll phase first: the timer may be due before a pipe opened in a busy
  // loop iteration was ever read, and what it holds must not be dropped.
  stage.cut = setTimeout(() => setImmediate(cut), DRAIN_MS);
}

function pause(id, stage, paused) {
  stage.paused = paused;
  for (const p of [stage.shell.stdout, stage.shell.stderr]) paused ? p.pause() : p.resume();
  if (!paused && stage.exit) armCutOff(id, stage);
}

function stop(code) {
  for (const [id, stage] of stages)
    if (!stage.exit) killStage(stage.shell.pid, tagOf(id), { since: stage.since, forks: stage.forks });
  process.exit(code);
}

let pending = Buffer.alloc(0);
process.stdin.on('data', (data) => {
  pending = parseFrames(pending.length === 0 ? data : Buffer.concat([pending, data]), (op, id, body) => {
    const stage = stages.get(id);
    if (op === Op.Run) run(id, Buffer.from(body));
    else if (op === Op.Pause || op === Op.Resume) {
      if (stage) pause(id, stage, op === Op.Pause);
    } else if (op === Op.Stop) stop(0);
    else {
      process.stderr.write(`helper.mjs: unknown op ${op} refused\n`);
      stop(2);
    }
  });
  if (pending.length > 32 * 1024 * 1024) stop(2);
});
// The agent is gone (or closed us): end every stage; nobody is left to read their output.
process.stdin.on('end', () => stop(0));
process.stdout.on('error', () => stop(0));
// Only the agent ends this process; running stages need it to report their end.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => undefined);
