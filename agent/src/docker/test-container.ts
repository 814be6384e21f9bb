import { Writable } from 'node:stream';
import type Dockerode from 'dockerode';
import { readContainerFiles } from './container-archive.js';
import { engineMessage, logTail, statusOf, withTail } from './environment-docker.js';
import { EnvironmentError } from './environment-error.js';
import { addCounts, parseJUnit, type JUnitCounts } from './junit.js';

export type { JUnitCounts } from './junit.js';

/** What {@link runTestContainer} runs. */
export interface TestContainerOptions {
  image: string;
  /** Replaces the image's CMD. */
  command?: string[];
  env?: Record<string, string>;
  /** Docker network to join (an environment's `network`, so services resolve by name); default none (loopback only). */
  network?: string;
  /** Path inside the container of a JUnit XML file, or of a directory whose `*.xml` files are all read. */
  junitPath?: string;
  labels: Record<string, string>;
  /** Container output, demultiplexed, as it arrives. */
  onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  /** Farm-side remarks (a missing report); default: written to onOutput('stderr') prefixed `dockyard: `. */
  onProblem?: (line: string) => void;
  /** Aborting kills and removes the container, then rejects with an `aborted` EnvironmentError. */
  signal?: AbortSignal;
  /** Kills the container after this long and rejects with a `timeout` EnvironmentError. */
  timeoutMs?: number;
  /** Container name; default Docker's random one. */
  name?: string;
}

export interface TestContainerResult {
  exitCode: number;
  /** Present when `junitPath` was given and at least one report parsed. */
  junit?: JUnitCounts;
  /** What went wrong collecting reports, as also sent to onProblem; empty when nothing did. */
  problems: string[];
}

/**
 * Runs a container once to completion: creates it, attaches before start (so no output is
 * lost), waits for its exit, copies the JUnit report out of the stopped container, and
 * removes it whatever happened. A non-zero exit is a result, not an error; a missing or
 * unreadable report is a problem line, not an error.
 * @throws EnvironmentError `image_missing`, `start_failed`, `timeout` or `aborted`.
 */
export async function runTestContainer(docker: Dockerode, opts: TestContainerOptions): Promise<TestContainerResult> {
  const problems: string[] = [];
  const problem = (line: string) => {
    problems.push(line);
    if (opts.onProblem) opts.onProblem(line);
    else opts.onOutput('stderr', Buffer.from(`dockyard: ${line}\n`));
  };
  opts.signal?.throwIfAborted();
  try {
    await docker.getImage(opts.image).inspect();
  } catch (err) {
    if (statusOf(err) === 404)
      throw new EnvironmentError('image_missing', `image '${opts.image}' is not on this engine`, { cause: err });
    throw new EnvironmentError('unavailable', `cannot inspect image '${opts.image}': ${engineMessage(err)}`, {
      cause: err,
    });
  }

  let container: Dockerode.Container;
  try {
    container = await docker.createContainer({
      name: opts.name,
      Image: opts.image,
      Cmd: opts.command,
      Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: opts.labels,
      Tty: false,
      HostConfig: { NetworkMode: opts.network ?? 'none' },
    });
  } catch (err) {
    throw new EnvironmentError('start_failed', `cannot create the test container: ${engineMessage(err)}`, {
      cause: err,
    });
  }

  try {
    const attach = (await container.attach({ stream: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
    const sink = (stream: 'stdout' | 'stderr') =>
      new Writable({
        write(chunk: Buffer, _enc, done) {
          opts.onOutput(stream, chunk);
          done();
        },
      });
    docker.modem.demuxStream(attach, sink('stdout'), sink('stderr'));
    const drained = new Promise<void>((resolve) => {
      attach.on('end', resolve);
      attach.on('close', resolve);
      attach.on('error', () => resolve()); // the exit code still comes from wait(); output may be cut short
    });

    try {
      await container.start();
    } catch (err) {
      const tail = await logTail(container);
      throw new EnvironmentError(
        'start_failed',
        withTail(`test container failed to start: ${engineMessage(err)}`, tail),
        { logTail: tail, cause: err },
      );
    }
    // After start: wait's default condition (not-running) answers at once for a created
    // container, and for one that already exited it still reports the exit code.
    const exited = container.wait() as Promise<{ StatusCode: number }>;
    const stop = await untilExitOrStop(exited, opts.timeoutMs, opts.signal);
    if (stop !== 'exited') {
      await container.kill().catch((err: unknown) => {
        if (statusOf(err) !== 404 && statusOf(err) !== 409) throw err; // 409: it exited meanwhile
      });
      await exited.catch(() => undefined); // killed: the status is 137 and says nothing more
      const tail = await logTail(container);
      if (stop === 'aborted')
        throw new EnvironmentError('aborted', 'test container was aborted', {
          cause: opts.signal?.reason,
          logTail: tail,
        });
      throw new EnvironmentError(
        'timeout',
        withTail(`test container ran longer than ${opts.timeoutMs} ms and was killed`, tail),
        { logTail: tail },
      );
    }
    const { StatusCode } = await exited;
    // Output frames still in flight end with the attach stream, shortly after the exit.
    await Promise.race([drained, new Promise((r) => setTimeout(r, 5_000).unref())]);

    const result: TestContainerResult = { exitCode: StatusCode, problems };
    if (opts.junitPath) {
      const junit = await collectJUnit(container, opts.junitPath, problem);
      if (junit) result.junit = junit;
    }
    return result;
  } finally {
    await container.remove({ force: true }).catch((err: unknown) => {
      if (statusOf(err) !== 404) problem(`could not remove the test container: ${engineMessage(err)}`);
    });
  }
}

async function untilExitOrStop(
  exited: Promise<unknown>,
  timeoutMs: number | undefined,
  signal: AbortSignal | undefined,
): Promise<'exited' | 'timeout' | 'aborted'> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      exited.then(
        () => 'exited' as const,
        () => 'exited' as const,
      ),
      new Promise<'timeout'>((resolve) => {
        if (timeoutMs !== undefined) timer = setTimeout(() => resolve('timeout'), timeoutMs);
      }),
      new Promise<'aborted'>((resolve) => {
        onAbort = () => resolve('aborted');
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

async function collectJUnit(
  container: Dockerode.Container,
  path: string,
  problem: (line: string) => void,
): Promise<JUnitCounts | undefined> {
  const read = await readContainerFiles(container, path);
  if (!read.ok) {
    problem(read.missing ? `no JUnit report: ${read.message}` : read.message);
    return undefined;
  }
  // A file comes back as the only entry; a directory as itself plus everything under it.
  const reports = read.files.length === 1 ? read.files : read.files.filter((f) => f.name.endsWith('.xml'));
  if (reports.length === 0) {
    problem(`no JUnit report: no .xml file under ${path}`);
    return undefined;
  }
  let total: JUnitCounts | undefined;
  for (const file of reports) {
    const parsed = parseJUnit(file.data.toString('utf8'));
    if (!parsed.ok) problem(`JUnit report ${file.name} unreadable: ${parsed.message}`);
    else total = total ? addCounts(total, parsed.counts) : parsed.counts;
  }
  return total;
}
