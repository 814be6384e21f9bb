// A command stage attempt's output directory on the agent host: made before
// the stage starts (the executor points $DOCKYARD_OUTPUT at the file in it),
// read after the stage exits, removed with the attempt. On tmpfs like secret
// files: an output may hold a secret until the runner masks it.
import { constants } from "node:fs";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { OUTPUT_FILE } from "../executor/types";
import { AgentError } from "../errors";
import { MAX_OUTPUT_FILE_BYTES, OutputFileError, parseOutputFile } from "./output-file";

/** A private base (0700): the attempt directories in it are open to any user of a container, not of the host. */
const BASE = path.join(existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), `dockyard-outputs-${process.getuid?.() ?? 0}`);

export function outputDir(attemptId: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(attemptId)) throw new Error(`unsafe attempt id for an output directory: ${attemptId}`);
  return path.join(BASE, attemptId);
}

/** Make the attempt's directory with an empty output file, both writable by a container's non-root user. */
export function createOutputDir(attemptId: string): string {
  const dir = outputDir(attemptId);
  mkdirSync(BASE, { recursive: true, mode: 0o700 });
  rmSync(dir, { recursive: true, force: true });
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
