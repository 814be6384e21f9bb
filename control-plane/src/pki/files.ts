// File handling of the PKI: reading operator and generated material with errors
// that name the file, and creating files so that two server replicas starting
// at once on one directory (a shared volume) end up with the same material.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { DockyardError } from "../errors";

/** A PKI file is missing, unreadable, not PEM, or does not fit the rest of the material. */
export class PkiFileError extends DockyardError {
  constructor(
    readonly file: string,
    why: string,
    options?: { cause?: unknown },
  ) {
    super("invalid", `${file}: ${why}`, options);
  }
}

/** The text of `file`; throws PkiFileError naming it (and the OS reason) when it cannot be read. */
export function readTextFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PkiFileError(file, code === "ENOENT" ? "no such file" : `cannot read (${code ?? String(err)})`, {
      cause: err,
    });
  }
}

/** The text of `file`, or null when it does not exist; other read errors throw PkiFileError. */
export function readIfExists(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new PkiFileError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/**
 * The PEM blocks of `text` of the given label ("CERTIFICATE", "PRIVATE KEY"…),
 * each normalized to end with a newline. Throws PkiFileError naming `file`
 * when there is none.
 */
export function pemBlocks(file: string, text: string, labels: readonly string[]): string[] {
  const blocks = [...text.matchAll(PEM_BLOCK)].filter((m) => labels.includes(m[1]!)).map((m) => `${m[0].trim()}\n`);
  if (blocks.length === 0) throw new PkiFileError(file, `not PEM: no ${labels.join(" or ")} block`);
  return blocks;
}

/** A temp name next to `file` (same filesystem, so link and rename are atomic), unique to this call. */
function tempNameFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

function writeTemp(file: string, data: string, mode: number): string {
  const tmp = tempNameFor(file);
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, data);
    fchmodSync(fd, mode); // the umask may have narrowed or (for 0644) not applied as wanted
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

/**
 * Create `file` with `data` and `mode` unless it exists, atomically: the data
 * goes to a temp file that is then hard-linked to `file` (link never replaces),
 * so a reader never sees a partial file and of two concurrent creators exactly
 * one wins. Returns the file's content, which is the winner's: `created` tells
 * whether that was this call. Throws PkiFileError when the directory is not
 * writable or the filesystem has no hard links.
 */
export function createFileOnce(file: string, data: string, mode: number): { content: string; created: boolean } {
  let tmp: string;
  try {
    tmp = writeTemp(file, data, mode);
  } catch (err) {
    throw new PkiFileError(file, `cannot write (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
  let created = true;
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new PkiFileError(file, `cannot create (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
        cause: err,
      });
    }
    created = false;
  } finally {
    unlinkSync(tmp);
  }
  return created ? { content: data, created } : { content: readTextFile(file), created };
}

/**
 * Replace `file` with `data` atomically (temp file, then rename over it):
 * readers see the old or the new content, never a mix. The last writer wins.
 */
export function replaceFile(file: string, data: string, mode: number): void {
  let tmp: string | undefined;
  try {
    tmp = writeTemp(file, data, mode);
    renameSync(tmp, file);
    tmp = undefined;
  } catch (err) {
    throw new PkiFileError(file, `cannot replace (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  } finally {
    if (tmp) unlinkSync(tmp);
  }
}
