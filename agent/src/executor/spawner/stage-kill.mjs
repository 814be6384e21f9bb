// Ends everything left of a shell stage, for the Node spawner helper and the agent's
// supervisor (the native dy-spawn does the same in C): the stage's process group, the
// rest of its session (a stage's shell starts in a new session, so its pid is both ids),
// and the processes of our uid whose environment holds the stage's tag
// DOCKYARD_SPAWN_TAG=<helper pid>.<stage id> (the spawner client exports it first thing in
// every stage script): that catches daemons that left the session with setsid(), since
// leaving it takes an exec and the exec'd program inherits the tag. A process that clears
// its environment and leaves the session escapes; the helpers stop waiting for its output
// after a short drain anyway. Plain JS: the helper runs without a TypeScript loader.
import { readdirSync, readFileSync, statSync } from 'node:fs';

export const TAG_VAR = 'DOCKYARD_SPAWN_TAG';

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, …]; null when gone. */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return null;
  }
}

/** When `pid` started (clock ticks since boot, /proc field 22); null when it is gone. */
export function startTicks(pid) {
  const f = statFields(pid);
  return f ? Number(f[19]) : null;
}

/** The first number in a small /proc file after `prefix`; 0 when unreadable. */
function procNumber(file, prefix = '') {
  try {
    const text = readFileSync(file, 'latin1');
    const at = prefix ? text.indexOf(prefix) : 0;
    return at < 0 ? 0 : Number.parseInt(text.slice(at + prefix.length), 10) || 0;
  } catch {
    return 0;
  }
}

/** Forks since boot; see killStage's `forks`. */
export const forksSoFar = () => procNumber('/proc/stat', '\nprocesses ');
let pidMax = 0;

function sigkill(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/**
 * SIGKILLs stage `sid`'s process group and session (unless `group` is false: the caller is
 * not sure the id is still the stage's) and the processes tagged `tag`. Processes started
 * before `since` (startTicks of the stage's shell) cannot be the stage's and are not read.
 * Scans /proc again while a pass found something (a daemon may fork meanwhile), at most 4 times.
 * `forks` (forksSoFar() just after the shell started) narrows the scan: pids are handed out
 * cyclically, so while fewer than pid_max forks happened since, all the stage's processes have
 * pids in (sid, last pid], and only those are read (reading every /proc/PID/stat costs ms).
 */
export function killStage(sid, tag, { since = 0, group = true, forks = 0 } = {}) {
  if (group) sigkill(-sid);
  const entry = tag ? Buffer.from(`\0${TAG_VAR}=${tag}\0`) : null;
  const uid = process.geteuid();
  pidMax ||= procNumber('/proc/sys/kernel/pid_max');
  const nowForks = forksSoFar();
  const last = procNumber('/proc/sys/kernel/ns_last_pid');
  const ranged = sid > 0 && forks > 0 && nowForks >= forks && last > 0 && nowForks - forks + 1000 < pidMax;
  const outside = (pid) => (last >= sid ? pid <= sid || pid > last : pid <= sid && pid > last);
  for (let pass = 0; pass < 4; pass++) {
    let found = 0;
    for (const name of readdirSync('/proc')) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || (ranged && outside(pid))) continue;
      const f = statFields(pid);
      if (!f || f[0] === 'Z' || f[0] === 'X') continue;
      if (group && Number(f[3]) === sid) {
        sigkill(pid);
        found++;
        continue;
      }
      if (!entry || Number(f[19]) < since) continue;
      try {
        if (statSync(`/proc/${pid}`).uid !== uid) continue;
        const env = readFileSync(`/proc/${pid}/environ`);
        if (Buffer.concat([Buffer.from([0]), env, Buffer.from([0])]).includes(entry)) {
          sigkill(pid);
          found++;
        }
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
    if (found === 0) return;
  }
}
