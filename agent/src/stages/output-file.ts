// The file a command stage writes its outputs to, named by $DOCKYARD_OUTPUT,
// in the format of GitHub Actions' $GITHUB_OUTPUT: `key=value` lines, and
// `key<<DELIMITER` ... `DELIMITER` for a multi-line value. Bounded so that the
// outputs fit what the server stores (control-plane/src/transport/outputs-input.ts)
// and what a later stage's fields can hold.
import { AgentError } from "../errors";

/** Largest output file a stage may write. */
export const MAX_OUTPUT_FILE_BYTES = 64 * 1024;
/** Most keys a stage may report (the server's limit). */
export const MAX_OUTPUT_KEYS = 64;
/** Longest value in bytes (the server's limit). */
export const MAX_OUTPUT_VALUE_BYTES = 4096;
/** A key as a shell or env name would be, with `-` allowed; at most 128 characters (the server's limit). */
export const OUTPUT_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;

/** The output file's content is not valid; the message names the line and the problem. */
export class OutputFileError extends AgentError<"invalid_output"> {
  constructor(message: string) {
    super("invalid_output", `$DOCKYARD_OUTPUT: ${message}`);
  }
}

/**
 * Parse an output file. Empty lines are skipped; a later line for a key
 * replaces the earlier value; `\r\n` endings are accepted. Throws
 * OutputFileError naming the first bad line.
 */
export function parseOutputFile(content: Buffer): Record<string, string> {
  if (content.length > MAX_OUTPUT_FILE_BYTES) {
    throw new OutputFileError(`the file has ${content.length} bytes; at most ${MAX_OUTPUT_FILE_BYTES} are allowed`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(content);
  } catch {
    throw new OutputFileError("the file is not valid UTF-8");
  }
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  if (lines[lines.length - 1] === "") lines.pop();
  const values: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const at = `line ${i + 1}`;
    if (line === "") continue;
    // As GitHub's runner: whichever of '=' and '<<' comes first decides the form.
    const eq = line.indexOf("=");
    const hd = line.indexOf("<<");
    let key: string;
    let value: string;
    if (hd !== -1 && (eq === -1 || hd < eq)) {
      key = line.slice(0, hd);
      const delimiter = line.slice(hd + 2);
      checkKey(key, at);
      if (delimiter === "")
        throw new OutputFileError(`${at}: '${key}<<' needs a delimiter after '<<' (e.g. ${key}<<EOF)`);
      const end = lines.indexOf(delimiter, i + 1);
      if (end === -1)
        throw new OutputFileError(`${at}: no line '${show(delimiter)}' ends the value of '${key}' begun here`);
      value = lines.slice(i + 1, end).join("\n");
      i = end;
    } else if (eq !== -1) {
      key = line.slice(0, eq);
      value = line.slice(eq + 1);
      checkKey(key, at);
    } else {
      throw new OutputFileError(`${at}: '${show(line)}' is neither key=value nor key<<DELIMITER`);
    }
    const bytes = Buffer.byteLength(value);
    if (bytes > MAX_OUTPUT_VALUE_BYTES)
      throw new OutputFileError(
        `${at}: the value of '${key}' has ${bytes} bytes; at most ${MAX_OUTPUT_VALUE_BYTES} are allowed`,
      );
    values[key] = value;
    if (Object.keys(values).length > MAX_OUTPUT_KEYS)
      throw new OutputFileError(`${at}: more than ${MAX_OUTPUT_KEYS} keys`);
  }
  return { ...values };
}

function checkKey(key: string, at: string): void {
  if (!OUTPUT_KEY.test(key)) {
    throw new OutputFileError(
      `${at}: key '${show(key)}' must start with a letter or '_' and hold only letters, digits, '_' and '-' (at most 128)`,
    );
  }
}

/** A line or key as quoted in a message: short (it may be long or hold a secret, which the runner masks). */
function show(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
