// The agent's id, kept in its state directory so a restarted agent registers as itself.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export function loadAgentId(stateDir: string): string {
  const file = path.join(stateDir, "agent.json");
  if (!existsSync(file)) return "";
  try {
    return String((JSON.parse(readFileSync(file, "utf8")) as { agentId?: string }).agentId ?? "");
  } catch {
    return "";
  }
}

export function saveAgentId(stateDir: string, agentId: string): void {
  writeFileSync(path.join(stateDir, "agent.json"), JSON.stringify({ agentId }));
}
