// The files a command stage left in $DOCKYARD_ARTIFACTS, uploaded as its artifacts once it
// exited (before its end is reported, while the attempt's lease is held). Best effort: a
// file that breaks a bound, or that the server refuses, is skipped with a line in the stage
// log naming it and why; the stage's result does not change. The stage controls the
// directory, so only regular files at its top level are read, never through a symlink
// (a container could otherwise point the agent at a host file).
import { constants } from "node:fs";
import { lstat, open, readdir } from "node:fs/promises";
import path from "node:path";
import {
  MAX_ARTIFACT_BYTES,
  MAX_ATTEMPT_ARTIFACTS,
  MAX_ATTEMPT_ARTIFACT_BYTES,
  artifactNameProblem,
  contentTypeOf,
  type Assignment,
} from "@dockyard/proto";
import type { StageArtifacts } from "./artifacts";

/** Upload the directory's files in name order; `line` writes to the stage log. Never throws. */
export async function uploadArtifactsDir(
  dir: string,
  a: Assignment,
  artifacts: StageArtifacts,
  line: (text: string) => void,
): Promise<void> {
  const skip = (name: string, why: string) => line(`dockyard: artifact ${name.slice(0, 160)} skipped: ${why}`);
  let names: string[];
  try {
    const st = await lstat(dir);
    if (!st.isDirectory()) {
      line(`dockyard: $DOCKYARD_ARTIFACTS is no longer a directory; no artifacts uploaded`);
      return;
    }
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      line(`dockyard: cannot read $DOCKYARD_ARTIFACTS: ${(err as Error).message}; no artifacts uploaded`);
    return;
  }
  let count = 0;
  let bytes = 0;
  for (const name of names) {
    const problem = artifactNameProblem(name);
    if (problem) {
      skip(name, problem);
      continue;
    }
    if (count >= MAX_ATTEMPT_ARTIFACTS) {
      skip(name, `the attempt already stored ${count} artifacts; the limit is ${MAX_ATTEMPT_ARTIFACTS}`);
      continue;
    }
    const read = await readBounded(path.join(dir, name));
    if (typeof read === "string") {
      skip(name, read);
      continue;
    }
    if (bytes + read.length > MAX_ATTEMPT_ARTIFACT_BYTES) {
      skip(
        name,
        `its ${read.length} bytes would bring the attempt's artifacts to ${bytes + read.length} bytes; ` +
          `the limit is ${MAX_ATTEMPT_ARTIFACT_BYTES} (50 MiB)`,
      );
      continue;
    }
    const contentType = contentTypeOf(name);
    try {
      const id = await artifacts.upload(a, name, contentType, read);
      count++;
      bytes += read.length;
      line(`dockyard: artifact ${name} stored (${read.length} bytes, ${contentType}): ${id}`);
    } catch (err) {
      skip(name, (err as Error).message);
    }
  }
}

/** The file's bytes, or why it is skipped: not a regular file, or over MAX_ARTIFACT_BYTES (read no further). */
async function readBounded(file: string): Promise<Buffer | string> {
  let fh;
  try {
    // O_NOFOLLOW: a symlink is refused, not followed; O_NONBLOCK: a FIFO does not hang the agent.
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ELOOP"
      ? "it is a symbolic link; write a regular file"
      : `cannot read it: ${(err as Error).message}`;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      return st.isDirectory() ? "it is a directory; only files at the top level are uploaded" : "not a regular file";
    if (st.size > MAX_ARTIFACT_BYTES) return `it has ${st.size} bytes; the limit is ${MAX_ARTIFACT_BYTES} (10 MiB)`;
    // One byte more than the stat said, so a file still being written is caught, not cut.
    const buf = Buffer.alloc(st.size + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got)
      got = (await fh.read(buf, n, buf.length - n, n)).bytesRead;
    if (n > st.size) return "it grew while being read (a process of the stage still writes it?)";
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}
