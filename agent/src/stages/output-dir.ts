// A command stage attempt's output directory on the agent host: made before
// the stage starts (the executor points $DOCKYARD_OUTPUT at the file in it),
// read after the stage exits, removed with the attempt. In the temp directory,
// as GitHub's runner keeps $GITHUB_OUTPUT: not on tmpfs, where a stage writing
// without end would fill the host's memory.
import { constants } from "node:fs";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { OUTPUT_FILE } from "../executor/types";
import { AgentError } from "../errors";
import { MAX_OUTPUT_FILE_BYTES, OutputFileError, parseOutputFile } from "./output-file";

/** The attempt's directory (0700: other host users stay out); the stage writes in its `out` (0777). */
export function outputDir(attemptId: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(attemptId)) throw new Error(`unsafe attempt id for an output directory: ${attemptId}`);
  return path.join(os.tmpdir(), `dockyard-output-${attemptId}`);
}

/**
 * Make the attempt's directory with an empty output file, writable by a container's non-root
 * user; returns the directory the stage writes in (what a container gets bind-mounted).
 */
export function createOutputDir(attemptId: string): string {
  const root = outputDir(attemptId);
  rmSync(root, { recursive: true, force: true }); // left by an earlier start of this attempt
  mkdirSync(root, { mode: 0o700 });
  const dir = path.join(root, "out");
  mkdirSync(dir);
  chmodSync(dir, 0o777); // explicit: mkdir's mode is cut by the umask
  const file = path.join(dir, OUTPUT_FILE);
  writeFileSync(file, "");
  chmodSync(file, 0o666);
  return dir;
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
    throw new AgentError("output_unreadable", `cannot read the stage's output file: ${(err as Error).message}`, { cause: err });
  }
  try {
    if (!(await fh.stat()).isFile()) throw new OutputFileError("not a regular file; write a regular file");
    // One byte more than allowed, so that an over-size file is recognised without reading it all.
    const buf = Buffer.alloc(MAX_OUTPUT_FILE_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = (await fh.read(buf, n, buf.length - n, n)).bytesRead;
    const size = (await fh.stat()).size;
    if (n > MAX_OUTPUT_FILE_BYTES) throw new OutputFileError(`the file has ${size} bytes; at most ${MAX_OUTPUT_FILE_BYTES} are allowed`);
    return parseOutputFile(buf.subarray(0, n));
  } finally {
    await fh.close();
  }
}

/** Idempotent. */
export function removeOutputDir(attemptId: string): void {
  rmSync(outputDir(attemptId), { recursive: true, force: true });
}
