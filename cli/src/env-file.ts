// `--env-file`: the KEY=VALUE file a systemd unit names in EnvironmentFile= (install.sh writes
// /etc/dockyard/agent.env), so `dockyard agent --check --env-file FILE` sees what the unit's agent sees.
import { readFileSync } from "node:fs";
import { CliError } from "./errors";

/**
 * Parses systemd's EnvironmentFile subset: `KEY=VALUE` lines, blank lines and `#`/`;` comments,
 * a value optionally in matching single or double quotes. Throws a CliError naming the file and
 * line for anything else.
 */
export function parseEnvFile(text: string, file = "env file"): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new CliError(`${file}:${i + 1}: expected KEY=VALUE`);
    let value = m[2]!;
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1);
    out[m[1]!] = value;
  });
  return out;
}

export function readEnvFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 1, { cause: err });
  }
  return parseEnvFile(text, file);
}
