import path from "node:path";
import { AgentError } from "../errors";

/** `rel` inside `root`, or an error naming it (no escape through ..). `root` may be relative. */
export function inside(root: string, rel: string): string {
  const base = path.resolve(root);
  const full = path.resolve(base, rel);
  if (full !== base && !full.startsWith(base + path.sep))
    throw new AgentError("invalid", `'${rel}' is outside the run's source`);
  return full;
}
