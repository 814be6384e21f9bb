// The agent's side of the journey child (journey-runner.ts, whose header says why it is a
// child): a fresh 0700 temp directory (HOME and TMPDIR, where the browser's profile goes, and
// the script's copy) owned by the child's uid; the child spawned with a cleared environment,
// under uid/gid 65534 via setpriv when the agent is root, and killed with the agent (setpriv's
// parent-death signal); one JSON request on stdin, a bounded JSON result on stdout, and a kill
// at the deadline or on abort. The directory is removed afterwards, whatever happened.
import { spawn } from "node:child_process";
import { chown, copyFile, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_RESULT_BYTES, parseResult, type JourneyRequest, type JourneyResult, type JourneyStep } from "./protocol";

/** The uid/gid the child runs as when the agent is root (nobody/nogroup on Debian). */
export const JOURNEY_UID = 65534;
const MAX_STDERR = 64 * 1024;
/** Past the journey's own deadline, the child gets this long to answer before it is killed. */
const KILL_GRACE_MS = 5000;

/**
 * Set by scripts/build.ts in the bundled agent: the child's bundle, from the repository root.
 * Undefined under tsx, where the child runs from its source with tsx's loader.
 */
declare const DOCKYARD_UI_JOURNEY: string | undefined;

/** node's arguments for the child: the bundle, or the source under tsx. */
export function childCommand(): string[] {
  if (typeof DOCKYARD_UI_JOURNEY !== "undefined")
    return [fileURLToPath(new URL(`../../../${DOCKYARD_UI_JOURNEY}`, import.meta.url))];
  return ["--import", import.meta.resolve("tsx"), fileURLToPath(new URL("./journey-runner.ts", import.meta.url))];
}

export interface JourneyRun {
  baseUrl: string;
  steps: JourneyStep[];
  /** The journey module in the run's source (copied into the child's directory); null with steps. */
  scriptFile: string | null;
  stepTimeoutMs: number;
  /** One run's limit. */
  journeyTimeoutMs: number;
  /** Runs until one passes (1 + retries), in one child and one browser; default 1. */
  runs?: number;
  signal?: AbortSignal;
  /** The child's stderr lines (a script's console output, the browser's complaints), bounded. */
  onStderr?: (line: string) => void;
  /** Tests: run as this uid even when not root (default: 65534 when root, else the agent's own). */
  uid?: number;
}

export class JourneyError extends Error {}

/**
 * The children's directories, named after the agent's pid: `dy-journey-<pid>-XXXXXX`. Short on purpose: Chromium
 * makes its singleton socket under TMPDIR (this directory), and a Unix socket's path has at most 107 bytes.
 */
const PREFIX = "dy-journey-";

/**
 * Remove the directories of agents that are gone (a kill -9 skips the `finally` that removes
 * them); those of live processes (this agent's running journeys, other agents') stay.
 */
async function sweepOrphans(): Promise<void> {
  const names = await readdir(os.tmpdir()).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(/^dy-journey-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    await rm(path.join(os.tmpdir(), name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The child starts in `dir` as `uid`: every directory above it must let that uid pass (x for others), or the
 * child dies before it can say why. A private TMPDIR (mode 0700, like mktemp -d's) is the usual cause.
 */
export async function checkReachable(dir: string, uid: number): Promise<void> {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = await stat(d);
    if (st.uid !== uid && (st.mode & 0o001) === 0)
      throw new JourneyError(
        `the journey's directory is under ${d} (mode ${(st.mode & 0o777).toString(8)}), which uid ${uid} cannot ` +
          "enter: give the agent a TMPDIR that others may pass through, like /tmp",
      );
    if (d === path.dirname(d)) return;
  }
}

export async function runJourneyChild(run: JourneyRun): Promise<JourneyResult> {
  const root = process.getuid?.() === 0;
  const uid = run.uid ?? (root ? JOURNEY_UID : null);
  await sweepOrphans();
  const dir = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
  try {
    if (uid !== null) await checkReachable(dir, uid);
    let script: string | null = null;
    if (run.scriptFile) {
      script = path.join(dir, "journey.mjs");
      await copyFile(run.scriptFile, script);
    }
    if (uid !== null) {
      await chown(dir, uid, uid);
      if (script) await chown(script, uid, uid);
    }
    const request: JourneyRequest = {
      baseUrl: run.baseUrl,
      steps: run.steps,
      script,
      stepTimeoutMs: run.stepTimeoutMs,
      journeyTimeoutMs: run.journeyTimeoutMs,
      runs: run.runs ?? 1,
    };
    return await spawnChild(request, dir, uid, run);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function spawnChild(request: JourneyRequest, dir: string, uid: number | null, run: JourneyRun): Promise<JourneyResult> {
  const node = [process.execPath, ...childCommand()];
  // --pdeathsig: the child (and so its browser, whose pipe closes) dies with the agent, even a kill -9 of it.
  const creds = uid === null ? [] : [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"];
  const argv = ["setpriv", ...creds, "--no-new-privs", "--pdeathsig=SIGKILL", "--", ...node];
  // A cleared environment: nothing of the agent's (its key path, server, tokens) reaches user code.
  const env = { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: dir, TMPDIR: dir, LANG: "C.UTF-8" };
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: dir, env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let partial = "";
    let failure: string | null = null;
    const kill = (why: string) => {
      failure ??= why;
      child.kill("SIGKILL");
    };
    const limit = run.journeyTimeoutMs * request.runs;
    const timer = setTimeout(() => kill(`the journey did not finish within ${limit} ms`), limit + KILL_GRACE_MS);
    const onAbort = () => kill("the stage was stopped");
    run.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > MAX_RESULT_BYTES) return kill(`the journey's result exceeds ${MAX_RESULT_BYTES} bytes`);
      out.push(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      if (errBytes > MAX_STDERR) return;
      errBytes += b.length;
      const lines = (partial + b.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line.trim() && !isNoise(line)) run.onStderr?.(line.slice(0, 500));
    });
    child.on("error", (err) => kill(`cannot start the journey runner: ${err.message}`));
    child.on("close", (code) => {
      clearTimeout(timer);
      run.signal?.removeEventListener("abort", onAbort);
      if (partial.trim() && !isNoise(partial)) run.onStderr?.(partial.slice(0, 500));
      if (failure) return reject(new JourneyError(failure));
      const text = Buffer.concat(out).toString("utf8").trim();
      if (code !== 0 || !text)
        return reject(new JourneyError(`the journey runner exited with code ${code} and no result`));
      try {
        resolve(parseResult(text));
      } catch (err) {
        reject(new JourneyError(`the journey runner's answer is unreadable: ${(err as Error).message}`));
      }
    });
    child.stdin.on("error", () => undefined); // a child that died early: its exit says why
    child.stdin.end(JSON.stringify(request));
  });
}

/** Debian's launcher script complains on every start (ENVIRONMENT.md §7): not the journey's. */
const isNoise = (line: string) => /\/usr\/bin\/chromium: \d+: \[:/.test(line);
