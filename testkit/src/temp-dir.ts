// Temporary directories for tests: one place that makes them and removes them, so that a test
// run leaves nothing in the temporary directory (scripts/test.sh checks that it does not).
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const toRemove = new Set<string>();
let hooked = false;

/**
 * Makes `<tmpdir>/dockyard-<name>-XXXXXX` and returns its path. It is removed with everything in
 * it when the process exits, whether its tests passed or failed (node's test runner runs each
 * test file in a process of its own), so a test can hand it to servers and agents it starts
 * and never has to clean up itself. Remove it earlier with `removeTempDir` when it is large.
 */
export function tempDir(name: string): string {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name))
    throw new Error(`tempDir: name must be lowercase letters, digits, . _ -, not '${name}'`);
  const dir = mkdtempSync(path.join(os.tmpdir(), `dockyard-${name}-`));
  removeOnExit(dir);
  return dir;
}

/** Removes `target` (a file or a directory tree) when the process exits. */
export function removeOnExit(target: string): void {
  toRemove.add(target);
  if (hooked) return;
  hooked = true;
  process.once("exit", removeAll);
}

/** Removes a directory from `tempDir` now (idempotent). */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  toRemove.delete(dir);
}

function removeAll(): void {
  for (const target of toRemove) {
    try {
      rmSync(target, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      // Exit handlers cannot wait or throw usefully: say what stays behind, and why.
      process.stderr.write(`could not remove ${target}: ${(err as Error).message}\n`);
    }
  }
  toRemove.clear();
}
