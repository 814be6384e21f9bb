// A command stage attempt's output directory on the agent host: made before
// the stage starts (the executor points $DOCKYARD_OUTPUT at the file in it),
// read after the stage exits, removed with the attempt. Under the agent's state
// directory, on disk as GitHub's runner keeps $GITHUB_OUTPUT (not on tmpfs,
// where a stage writing without end would fill the host's memory), so that the
// directories of an agent that was killed are found and removed when it is back.
import { constants } from "node:fs";
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { ARTIFACTS_DIR, OUTPUT_FILE } from "../executor/types";
import { AgentError } from "../errors";
import { MAX_OUTPUT_FILE_BYTES, OutputFileError, parseOutputFile } from "./output-file";

const ATTEMPT_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * The attempts' output directories of one agent, under `root` (`<state-dir>/outputs`). Each
 * attempt's (0700: other host users stay out) holds the directory the stage writes in (`out`,
 * 0777, bind-mounted into a container). Idempotent, safe from any stage's start and remove.
 */
export class OutputDirs {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The attempt's directory. */
  pathOf(attemptId: string): string {
    if (!ATTEMPT_ID.test(attemptId)) throw new Error(`unsafe attempt id for an output directory: ${attemptId}`);
    return path.join(this.root, attemptId);
  }

  /** Make the attempt's directory with an empty output file; returns the directory the stage writes in. */
  create(attemptId: string): string {
    const dir = this.pathOf(attemptId);
    rmSync(dir, { recursive: true, force: true }); // left by an earlier start of this attempt
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    mkdirSync(dir, { mode: 0o700 });
    const out = path.join(dir, "out");
    mkdirSync(out);
    chmodSync(out, 0o777); // explicit: mkdir's mode is cut by the umask
    const file = path.join(out, OUTPUT_FILE);
    writeFileSync(file, "");
    chmodSync(file, 0o666);
    const artifacts = path.join(out, ARTIFACTS_DIR); // $DOCKYARD_ARTIFACTS (artifacts-dir.ts)
    mkdirSync(artifacts);
    chmodSync(artifacts, 0o777);
    return out;
  }

  /** Idempotent. */
  remove(attemptId: string): void {
    rmSync(this.pathOf(attemptId), { recursive: true, force: true });
  }

  /**
   * Remove every attempt's directory but those of `running`: what a killed agent (or a
   * runner that never got to its remove) left. Returns the attempt ids removed.
   */
  reap(running: ReadonlySet<string>): string[] {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch {
      return []; // no directory yet
    }
    const gone = names.filter((n) => ATTEMPT_ID.test(n) && !running.has(n));
    for (const n of gone) this.remove(n);
    return gone;
  }
}

/**
 * The outputs the stage wrote (empty when it wrote none or removed the file). Throws
 * OutputFileError for bad content, a file too big, or anything but a regular file: the
 * stage controls the directory, and a symlink or FIFO there must not make the agent read
 * a host file or hang.
 */
export async function readOutputs(dir: string): Promise<Record<string, string>> {
  let fh;
  try {
    fh = await open(path.join(dir, OUTPUT_FILE), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return {};
    if (code === "ELOOP") throw new OutputFileError("the file is a symbolic link; write a regular file");
    throw new AgentError("output_unreadable", `cannot read the stage's output file: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    if (!(await fh.stat()).isFile()) throw new OutputFileError("not a regular file; write a regular file");
    // One byte more than allowed, so that an over-size file is recognised without reading it all.
    const buf = Buffer.alloc(MAX_OUTPUT_FILE_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got)
      got = (await fh.read(buf, n, buf.length - n, n)).bytesRead;
    const size = (await fh.stat()).size;
    if (n > MAX_OUTPUT_FILE_BYTES)
      throw new OutputFileError(`the file has ${size} bytes; at most ${MAX_OUTPUT_FILE_BYTES} are allowed`);
    return parseOutputFile(buf.subarray(0, n));
  } finally {
    await fh.close();
  }
}
