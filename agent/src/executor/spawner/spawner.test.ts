// The shell spawner beyond the executor contract, for both helpers: what a stage's shell
// can see, where its script goes, flow control, and what happens when the helper or the agent dies.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collect } from '../contract.js';
import { isExecutorError } from '../errors.js';
import { ShellExecutor, shellQuote, stageScript } from '../shell.js';
import { NATIVE_HELPER, type SpawnerKind } from './client.js';
import type { AttemptSpec } from '../types.js';
import { tempDir } from '@dockyard/testkit';

const NODE_HELPER = fileURLToPath(new URL('./helper.mjs', import.meta.url));
/** Stage commands: wait (bounded) until the daemon wrote $PIDFILE, then print it. */
const waitForPidFile = [
  'i=0; while [ ! -s "$PIDFILE" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done',
  'cat "$PIDFILE"',
];

let n = 0;
const spec = (commands: string[], env: Record<string, string> = {}): AttemptSpec => ({
  attemptId: `sp-${process.pid}-${++n}`,
  runId: 'run-1',
  stageId: 'stage-1',
  stageName: 's',
  attemptNumber: 1,
  image: null,
  commands,
  env,
  limits: {},
  agentId: 'agent-1',
});

for (const kind of ['native', 'node'] as SpawnerKind[]) {
  describe(`shell spawner (${kind})`, () => {
    let workDir: string;
    let executor: ShellExecutor;
    const run = async (s: AttemptSpec) => collect(await executor.start(s, new AbortController().signal));

    before(async () => {
      workDir = tempDir('spawner');
      executor = new ShellExecutor({ workDir, spawner: kind });
      executor.warmUp();
    });
    after(async () => {
      await executor.close();
      await rm(workDir, { recursive: true, force: true });
    });

    it('is the helper asked for', async () => {
      assert.equal(executor.spawnerKind, kind);
      // warmUp starts the helper without waiting for it: on a busy machine it may not be exec'd yet.
      const deadline = Date.now() + 10_000;
      while (!findHelper(process.pid, kind) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(helperOf(process.pid, kind) > 0);
    });

    it('quotes any value as one sh word', async () => {
      const value = `it's "quoted" $HOME \`x\` \\ \n new line; rm -rf /`;
      const r = await run(spec([`printf '%s' "$V"`], { V: value }));
      assert.equal(r.stdout, value);
      assert.equal(shellQuote("a'b"), `'a'\\''b'`);
    });

    it("shows the stage only its own env, PATH and HOME, not the agent's", async () => {
      process.env.DOCKYARD_TEST_AGENT_SECRET = 's3cret';
      const r = await run(
        spec(['env | sort', 'if { true >&3; } 2>/dev/null; then echo fd3=open; else echo fd3=closed; fi'], {
          STAGE_VAR: 'x',
        }),
      );
      delete process.env.DOCKYARD_TEST_AGENT_SECRET;
      assert.doesNotMatch(r.stdout, /s3cret/);
      assert.match(r.stdout, /^STAGE_VAR=x$/m);
      assert.match(r.stdout, /^PATH=/m);
      assert.match(r.stdout, /^HOME=/m);
      assert.match(r.stdout, /^fd3=closed$/m, 'the pipe the script came through is closed');
    });

    it('gives the stage an empty stdin and default signal handling', async () => {
      const r = await run(
        spec(['cat', 'echo after', 'sleep 5 & pid=$!; kill -TERM $pid; wait $pid || echo "sleep ended $?"']),
      );
      assert.equal(r.stdout, 'after\nsleep ended 143\n');
    });

    it('leaves no script on disk once its shell has exited', async () => {
      await run(spec(['echo SECRET_VALUE_IN_SCRIPT']));
      const scripts = join(workDir, '.scripts');
      assert.deepEqual(
        readdirSync(scripts).filter((f) => f.endsWith('.sh')),
        [],
      );
    });

    it("runs a script longer than a waiting shell's pipe takes, from a file", async () => {
      // About 0.6 MB fits a waiting shell's pipe; about 1.2 MB does not.
      for (const lines of [24_000, 48_000]) {
        const r = await run(spec([...Array<string>(lines).fill(': padding-padding-padding'), 'echo reached the end']));
        assert.equal(r.stdout, 'reached the end\n');
      }
    });

    it('refuses an env name sh cannot export, before running anything', async () => {
      await assert.rejects(
        executor.start(spec(['true'], { 'A-B': 'x' }), new AbortController().signal),
        (err: unknown) => isExecutorError(err) && err.code === 'start_failed' && /A-B/.test(err.message),
      );
      assert.throws(() => stageScript('/tmp', { '1X': 'y' }, ['true']), /not a valid shell variable name/);
    });

    it('runs a burst of stages at once, each with its own output', async () => {
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => run(spec([`echo burst-${i}`, `echo err-${i} >&2`, `exit ${i % 3}`]))),
      );
      assert.deepEqual(
        results.map((r) => r.stdout),
        Array.from({ length: 24 }, (_, i) => `burst-${i}\n`),
      );
      assert.deepEqual(
        results.map((r) => r.stderr),
        Array.from({ length: 24 }, (_, i) => `err-${i}\n`),
      );
      assert.deepEqual(
        results.map((r) => r.exit.exitCode),
        Array.from({ length: 24 }, (_, i) => i % 3),
      );
    });

    it("holds a stage's output while its reader is slow, and loses none of it", async () => {
      const handle = await executor.start(spec(['seq 1 200000']), new AbortController().signal);
      const quick = run(spec(['echo meanwhile'])); // another stage is not held up
      const parts: Buffer[] = [];
      for await (const chunk of handle.output) {
        parts.push(chunk.data);
        if (parts.length % 8 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal((await quick).stdout, 'meanwhile\n');
      const lines = Buffer.concat(parts).toString().split('\n');
      assert.equal(lines.length, 200001);
      assert.equal(lines[199999], '200000');
      assert.equal((await handle.wait()).exitCode, 0);
    });

    it('lets a stage finish whose reader left early', async () => {
      const handle = await executor.start(spec(['seq 1 300000', 'echo end >&2']), new AbortController().signal);
      for await (const chunk of handle.output) {
        assert.ok(chunk.data.length > 0);
        break;
      }
      assert.equal((await handle.wait()).exitCode, 0);
    });

    it("ends the stage's background jobs with it, so its output ends", async () => {
      const r = await run(spec(['(sleep 30; echo late) &', 'echo now']));
      assert.equal(r.stdout, 'now\n');
    });

    it('drops a waiting shell killed from outside and still starts the next stage', async () => {
      // The pool refills after the last stage's end (or 100 ms): wait for that, on a loaded machine too.
      const want = kind === 'native' ? 2 : 0;
      await waitUntil(() => waitingShells(join(workDir, '.scripts')).length === want);
      const waiting = waitingShells(join(workDir, '.scripts'));
      assert.equal(waiting.length, want);
      for (const pid of waiting) process.kill(pid, 'SIGKILL');
      // Reaped by the helper (gone from /proc): a shell handed its script while still dying
      // would take the stage down with it, like any stage killed from outside.
      await waitUntil(() => waiting.every((pid) => !existsSync(`/proc/${pid}`)));
      const results = await Promise.all([1, 2, 3].map((i) => run(spec([`echo after-kill-${i}`]))));
      assert.deepEqual(
        results.map((r) => r.stdout),
        ['after-kill-1\n', 'after-kill-2\n', 'after-kill-3\n'],
      );
    });

    // A daemon: it leaves the stage's session (setsid) and keeps the stage's stdout open. The
    // stage ends with its shell all the same, and the daemon with it (found by the stage's tag).
    for (const [what, start] of <[string, string][]>[
      ['a setsid daemon in a subshell', `(setsid sh -c 'echo $$ > "$PIDFILE"; exec sleep 300' &)`],
      ["a nohup'd setsid daemon", `setsid nohup sh -c 'echo $$ > "$PIDFILE"; exec sleep 300' &`],
      // Its own process group (job control), same session, never exec'd: so untagged.
      ['a job-control subshell', `set -m; (while :; do sleep 1; done) & echo $! > "$PIDFILE"`],
    ]) {
      it(`ends a stage that leaves ${what} holding its output, and the daemon`, async () => {
        const started = Date.now();
        const r = await run(spec([start, ...waitForPidFile, 'echo done'], { PIDFILE: `daemon-${kind}-${n}.pid` }));
        assert.equal(r.exit.exitCode, 0);
        assert.match(r.stdout, /^\d+\ndone\n$/);
        assert.ok(Date.now() - started < 3000, `ended after ${Date.now() - started} ms`);
        const daemon = Number(r.stdout.split('\n')[0]);
        await waitUntil(() => !alive(daemon));
      });
    }

    it('ends a stage whose daemon escaped (no tag, own session) after a short drain, leaving the daemon', async () => {
      const started = Date.now();
      const r = await run(
        spec(
          [
            `env -u DOCKYARD_SPAWN_TAG setsid sh -c 'echo $$ > "$PIDFILE"; exec sleep 300' &`,
            ...waitForPidFile,
            'echo done',
          ],
          {
            PIDFILE: `escaped-${kind}-${n}.pid`,
          },
        ),
      );
      assert.equal(r.exit.exitCode, 0);
      assert.match(r.stdout, /^\d+\ndone\n$/);
      assert.ok(Date.now() - started < 3000, `ended after ${Date.now() - started} ms`);
      // The positive control of the tests above: the probe does see a live daemon.
      const daemon = Number(r.stdout.split('\n')[0]);
      assert.ok(alive(daemon), 'the escaped daemon still runs');
      process.kill(daemon, 'SIGKILL');
    });

    it("leaves stop signals to the agent: a signalled helper still reports its stages' ends", async () => {
      const handle = await executor.start(spec(['sleep 0.3', 'echo done']), new AbortController().signal);
      const helperPid = helperOf(process.pid, kind);
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.kill(helperPid, signal);
      const r = await collect(handle);
      assert.equal(r.stdout, 'done\n');
      assert.equal(r.exit.exitCode, 0);
      assert.ok(alive(helperPid));
    });

    it('fails the attempts of a helper that dies, and starts a new helper for the next one', async () => {
      const handle = await executor.start(spec(['sleep 30']), new AbortController().signal);
      const helperPid = helperOf(process.pid, kind);
      process.kill(helperPid, 'SIGKILL');
      await assert.rejects(collect(handle), (err: unknown) => isExecutorError(err) && err.code === 'wait_failed');
      const r = await run(spec(['echo again']));
      assert.equal(r.stdout, 'again\n');
    });
  });
}

function readFileText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

describe('spawner helpers on their own', () => {
  for (const kind of ['native', 'node'] as SpawnerKind[]) {
    const command = kind === 'native' ? [NATIVE_HELPER] : [process.execPath, NODE_HELPER];

    it(`${kind}: ends its running stages' process groups, and itself, when the agent dies`, async () => {
      const scriptDir = tempDir('spawner');
      // A stand-in agent: starts the helper, runs `sleep 300` and reports the pids, then is killed.
      const agentCode = `
        const { spawn } = require("node:child_process");
        const [cmd, ...args] = ${JSON.stringify([...command, scriptDir])};
        const helper = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"], env: { PATH: process.env.PATH } });
        const script = Buffer.from("sleep 300\\n");
        const head = Buffer.alloc(9); head[0] = 1; head.writeUInt32BE(7, 1); head.writeUInt32BE(script.length, 5);
        helper.stdin.write(Buffer.concat([head, script]));
        helper.stdout.once("data", (d) => process.stdout.write(JSON.stringify({ helper: helper.pid, shell: d.readUInt32BE(9) }) + "\\n"));`;
      const agent = spawn(process.execPath, ['-e', agentCode], { stdio: ['ignore', 'pipe', 'inherit'] });
      const line = await new Promise<string>((resolve) =>
        agent.stdout.once('data', (d: Buffer) => resolve(d.toString())),
      );
      const { helper, shell } = JSON.parse(line.split('\n')[0]!) as { helper: number; shell: number };
      try {
        await waitUntil(() => inGroup(shell).length === 2); // sh and its sleep
        // The stage's shell keeps the waiting shells' name; the used one is replaced within 100 ms.
        if (kind === 'native')
          await waitUntil(() => waitingShells(scriptDir).filter((pid) => pid !== shell).length === 2);
      } finally {
        agent.kill('SIGKILL');
      }
      await waitUntil(() => !alive(helper) && inGroup(shell).length === 0 && waitingShells(scriptDir).length === 0);
      await rm(scriptDir, { recursive: true, force: true });
    });

    it(`${kind}: refuses a malformed request and ends`, () => {
      const r = spawnSync(command[0]!, [...command.slice(1), tmpdir()], {
        input: Buffer.from([9, 0, 0, 0, 1, 0, 0, 0, 0]),
        encoding: 'utf8',
      });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /unknown op 9 refused/);
    });

    it(`${kind}: says how to start it when started wrongly`, () => {
      const r = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8' });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /usage: .*SCRIPT_DIR/);
    });
  }

  it('ends with the executor that closes it', async () => {
    const workDir = tempDir('spawner');
    const executor = new ShellExecutor({ workDir });
    executor.warmUp();
    const helper = helperOf(process.pid, 'native');
    await executor.close();
    await waitUntil(() => !alive(helper));
    await rm(workDir, { recursive: true, force: true });
  });
});

/** The spawner helper started by process `parent`. */
function helperOf(parent: number, kind: SpawnerKind): number {
  const pid = findHelper(parent, kind);
  assert.ok(pid > 0, `${kind} helper process found`);
  return pid;
}

/** The helper's pid, or 0 when none runs (yet). */
function findHelper(parent: number, kind: SpawnerKind): number {
  const marker = kind === 'native' ? 'dy-spawn' : 'helper.mjs';
  const pid = Number(
    readdirSync('/proc').find(
      (p) =>
        /^\d+$/.test(p) &&
        existsSync(`/proc/${p}/cmdline`) &&
        readFileText(`/proc/${p}/cmdline`).includes(marker) &&
        readFileText(`/proc/${p}/status`).includes(`PPid:\t${parent}\n`),
    ),
  );
  return pid || 0;
}

/** The native spawner's waiting shells for `scriptDir` (their $0 names it). */
function waitingShells(scriptDir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => readFileText(`/proc/${pid}/cmdline`).includes(`dy-warm:${scriptDir}`) && alive(pid));
}

/** Live processes in process group `pgid`. */
function inGroup(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => {
      const f = readFileText(`/proc/${pid}/stat`).split(') ')[1]?.split(' ');
      return f !== undefined && f[0] !== 'Z' && Number(f[2]) === pgid;
    });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileText(`/proc/${pid}/stat`).includes(') Z '); // a zombie is gone for our purposes
  } catch {
    return false;
  }
}

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
