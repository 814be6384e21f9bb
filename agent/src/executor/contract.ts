import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isExecutorError } from './errors.js';
import type { AttemptExit, AttemptSpec, Executor, ExecutorHandle, OutputChunk } from './types.js';

export interface ContractSubject {
  executor: Executor;
  /** Image the attempts run in (needs `sh`, `echo`, `cat`, `sleep`, `false`); null for shell. */
  image: string | null;
  cleanup(): Promise<void>;
}

/** Ids the suite uses, so a factory's cleanup can find what the suite left behind. */
export function contractIds(name: string): { agentId: string; runPrefix: string } {
  return { agentId: `ct-${name}-${process.pid}`, runPrefix: `ct-${name}-${process.pid}-` };
}

export interface Collected {
  stdout: string;
  stderr: string;
  chunks: OutputChunk[];
  exit: AttemptExit;
}

/** Drains output while waiting, as every caller must. */
export async function collect(handle: ExecutorHandle): Promise<Collected> {
  const chunks: OutputChunk[] = [];
  const [exit] = await Promise.all([
    handle.wait(),
    (async () => {
      for await (const chunk of handle.output) chunks.push(chunk);
    })(),
  ]);
  const text = (stream: string): string =>
    Buffer.concat(chunks.filter((c) => c.stream === stream).map((c) => c.data)).toString('utf8');
  return { stdout: text('stdout'), stderr: text('stderr'), chunks, exit };
}

/**
 * The suite every Executor passes. `make` runs once per suite; `cleanup` runs at the end
 * (after each test has already removed its own attempts).
 */
export function executorContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`executor contract: ${name}`, { timeout: 60_000 }, () => {
    let subject: ContractSubject;
    const { agentId, runPrefix } = contractIds(name);
    let runSeq = 0;
    const newRun = (): string => `${runPrefix}${++runSeq}`;
    const spec = (commands: string[], over: Partial<AttemptSpec> = {}): AttemptSpec => {
      const attemptId = randomUUID();
      return {
        attemptId,
        runId: over.runId ?? newRun(),
        stageId: `stage-${attemptId.slice(0, 8)}`,
        stageName: 'contract',
        attemptNumber: 1,
        image: subject.image,
        commands,
        env: {},
        limits: {},
        agentId,
        ...over,
      };
    };
    /** Starts, drains and removes one attempt. */
    const run = async (s: AttemptSpec): Promise<Collected> => {
      const handle = await subject.executor.start(s, new AbortController().signal);
      try {
        return await collect(handle);
      } finally {
        await subject.executor.remove(s);
      }
    };

    before(async () => {
      subject = await make();
      assert.equal(await subject.executor.isAvailable(), true, `${name} executor is not available`);
    });
    after(async () => {
      await subject?.cleanup();
    });

    it('captures stdout and stderr separately and in order', async () => {
      const r = await run(spec(['echo out1', 'echo err1 >&2', 'echo out2', 'echo err2 >&2', 'printf "no newline"']));
      assert.deepEqual(r.exit, { exitCode: 0, oomKilled: false });
      assert.equal(r.stdout, 'out1\nout2\nno newline');
      assert.equal(r.stderr, 'err1\nerr2\n');
      assert.ok(r.chunks.every((c) => Buffer.isBuffer(c.data) && c.data.length > 0));
    });

    it('propagates the exit code', async () => {
      const r = await run(spec(['echo before', 'exit 3']));
      assert.equal(r.exit.exitCode, 3);
      assert.equal(r.stdout, 'before\n');
    });

    it('passes env through', async () => {
      const r = await run(
        spec(['echo "$DOCKYARD_GREETING|$SECOND"'], { env: { DOCKYARD_GREETING: 'hello world', SECOND: 'a=b' } }),
      );
      assert.equal(r.stdout, 'hello world|a=b\n');
    });

    it('runs commands in order and stops at the first failure', async () => {
      const r = await run(spec(['echo one', 'echo two', 'false', 'echo three']));
      assert.equal(r.exit.exitCode, 1);
      assert.equal(r.stdout, 'one\ntwo\n');
    });

    it('streams large output without loss', async () => {
      // 20 000 numbered lines (~110 KB) on stdout: several chunks, exact content.
      const r = await run(spec(['i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done']));
      const lines = r.stdout.split('\n');
      assert.equal(lines.length, 20001);
      assert.equal(lines[0], 'line 0');
      assert.equal(lines[19999], 'line 19999');
    });

    it('abort kills a running attempt within the grace and wait() resolves', async () => {
      const s = spec(['echo started', 'sleep 30', 'echo not reached']);
      const ac = new AbortController();
      const handle = await subject.executor.start(s, ac.signal);
      try {
        const chunks: string[] = [];
        const drained = (async () => {
          for await (const c of handle.output) {
            chunks.push(c.data.toString());
            if (chunks.join('').includes('started')) ac.abort();
          }
        })();
        const t0 = Date.now();
        const [exit] = await Promise.all([handle.wait(), drained]);
        assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);
        assert.notEqual(exit.exitCode, 0);
        assert.equal(chunks.join(''), 'started\n');
      } finally {
        await subject.executor.remove(s);
      }
    });

    it('start with an aborted signal throws start_failed and runs nothing', async () => {
      const runId = newRun();
      const s = spec(['touch ran'], { runId });
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(subject.executor.start(s, ac.signal), (err) => isExecutorError(err, 'start_failed'));
      await subject.executor.remove(s);
      await subject.executor.remove(s);
      const r = await run(spec(['test ! -e ran && echo clean'], { runId }));
      assert.equal(r.stdout, 'clean\n');
    });

    it('remove is idempotent', async () => {
      const s = spec(['true']);
      await collect(await subject.executor.start(s, new AbortController().signal));
      await subject.executor.remove(s);
      await subject.executor.remove(s);
      await subject.executor.reap(s.attemptId);
    });

    it('keeps the workspace between attempts of one run, not across runs', async () => {
      const runId = newRun();
      const first = await run(spec(['echo "from stage 1" > shared.txt', 'mkdir -p out && echo x > out/y'], { runId }));
      assert.equal(first.exit.exitCode, 0, first.stderr);
      const second = await run(spec(['cat shared.txt out/y'], { runId, attemptNumber: 2 }));
      assert.equal(second.stdout, 'from stage 1\nx\n');
      const other = await run(spec(['test ! -e shared.txt && echo fresh']));
      assert.equal(other.stdout, 'fresh\n');
    });

    it('finds a run workspace on the host; removeWorkspace removes it, idempotently', async () => {
      const runId = newRun();
      const r = await run(spec(['echo x > kept'], { runId }));
      assert.equal(r.exit.exitCode, 0, r.stderr);
      const found = async () => (await subject.executor.listWorkspaces()).filter((w) => w.runId === runId);
      const [w] = await found();
      assert.ok(w, 'the workspace is listed after its stage ended');
      assert.ok(w.agentId === agentId || w.agentId === null, `labelled with its agent or none, got ${w.agentId}`);
      await subject.executor.removeWorkspace(runId);
      await subject.executor.removeWorkspace(runId);
      assert.deepEqual(await found(), []);
      const fresh = await run(spec(['test ! -e kept && echo fresh'], { runId }));
      assert.equal(fresh.stdout, 'fresh\n');
      await subject.executor.removeWorkspace(runId);
    });

    it('runs attempts of one run concurrently', async () => {
      // Each waits (up to 10 s) for the other's marker file: only concurrent attempts pass.
      const runId = newRun();
      const meet = (me: string, peer: string): string[] => [
        `touch ${me}`,
        `i=0; while [ ! -e ${peer} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`,
        `test -e ${peer} && echo ${me} met ${peer}`,
      ];
      const [a, b] = await Promise.all([run(spec(meet('a', 'b'), { runId })), run(spec(meet('b', 'a'), { runId }))]);
      assert.equal(a?.stdout, 'a met b\n');
      assert.equal(b?.stdout, 'b met a\n');
    });
  });
}
