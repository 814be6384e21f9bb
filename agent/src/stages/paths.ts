import path from "node:path";

/** `rel` inside `root`, or an error naming it (no escape through .. or symlinked absolute paths). */
export function inside(root: string, rel: string): string {
  const full = path.resolve(root, rel);
  if (full !== root && !full.startsWith(root + path.sep)) throw new Error(`'${rel}' is outside the run's source`);
  return full;
}
