// Secrets a stage asked for as files (`env: { X: { secret: name, file: true } }`):
// written for one attempt into a private directory on tmpfs (/dev/shm, so they
// never touch a disk) with mode 0400, and removed with the attempt. The stage's
// env variable holds the file's path.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface SecretFile {
  env: string;
  value: Buffer;
}

/** tmpfs when the host has it; the temp dir otherwise. */
const BASE = path.join(existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), `dockyard-secrets-${process.getuid?.() ?? 0}`);

export function secretDir(attemptId: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(attemptId)) throw new Error(`unsafe attempt id for a secret directory: ${attemptId}`);
  return path.join(BASE, attemptId);
}

/** Write the files (0400) in the attempt's directory (0700); returns the directory. */
export function writeSecretFiles(attemptId: string, files: SecretFile[]): string {
  const dir = secretDir(attemptId);
  mkdirSync(BASE, { recursive: true, mode: 0o700 });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  for (const f of files) writeFileSync(path.join(dir, f.env), f.value, { mode: 0o400 });
  return dir;
}

/** Idempotent. */
export function removeSecretFiles(attemptId: string): void {
  rmSync(secretDir(attemptId), { recursive: true, force: true });
}
