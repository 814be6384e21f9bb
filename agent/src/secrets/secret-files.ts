// Secrets a stage asked for as files (`env: { X: { secret: name, file: true } }`):
// written for one attempt into a private directory on tmpfs (/dev/shm, so they
// never touch a disk) with mode 0400, and removed with the attempt. The stage's
// env variable holds the file's path. Directories are kept per run (RUN/ATTEMPT),
// so what a killed agent left is found on the host and removed with the run's
// workspace once the run ended, by whichever agent of the host hears it (workspaces.ts).
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface SecretFile {
  env: string;
  value: Buffer;
}

/** tmpfs when the host has it; the temp dir otherwise. */
const BASE = path.join(
  existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(),
  `dockyard-secrets-${process.getuid?.() ?? 0}`,
);
const SAFE = /^[A-Za-z0-9-]{1,64}$/;

function runSecretDir(runId: string): string {
  if (!SAFE.test(runId)) throw new Error(`unsafe run id for a secret directory: ${runId}`);
  return path.join(BASE, runId);
}

export function secretDir(runId: string, attemptId: string): string {
  if (!SAFE.test(attemptId)) throw new Error(`unsafe attempt id for a secret directory: ${attemptId}`);
  return path.join(runSecretDir(runId), attemptId);
}

/** Write the files (0400) in the attempt's directory (0700, as are the ones above it); returns the directory. */
export function writeSecretFiles(runId: string, attemptId: string, files: SecretFile[]): string {
  const dir = secretDir(runId, attemptId);
  mkdirSync(BASE, { recursive: true, mode: 0o700 });
  mkdirSync(runSecretDir(runId), { recursive: true, mode: 0o700 });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  for (const f of files) writeFileSync(path.join(dir, f.env), f.value, { mode: 0o400 });
  return dir;
}

/**
 * Idempotent. The run's directory stays until the run ended (removeRunSecrets): another attempt of it may be writing
 * there.
 */
export function removeSecretFiles(runId: string, attemptId: string): void {
  rmSync(secretDir(runId, attemptId), { recursive: true, force: true });
}

/** Runs with a secret directory on this host (any agent's, also a killed one's). */
export function secretRunIds(): string[] {
  try {
    return readdirSync(BASE).filter((n) => SAFE.test(n));
  } catch {
    return [];
  }
}

/** The run ended: every attempt's secret files of it go. Idempotent. */
export function removeRunSecrets(runId: string): void {
  rmSync(runSecretDir(runId), { recursive: true, force: true });
}
