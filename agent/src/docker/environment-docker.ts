import type Dockerode from 'dockerode';

/** HTTP status of a dockerode error (404 missing, 409 conflict, 304 already stopped). */
export function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The engine's own message (`json.message`) when it sent one, else the error's. */
export function engineMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The last `lines` lines a container wrote (stdout and stderr in order). Never throws: a
 * container already gone gives []. `logs({ follow: false })` returns multiplexed frames
 * (8-byte header: stream byte, 3 zero bytes, big-endian length) when Tty is false.
 */
export async function logTail(container: Dockerode.Container, lines = 20): Promise<string[]> {
  let raw: Buffer;
  try {
    raw = (await container.logs({ stdout: true, stderr: true, follow: false, tail: lines })) as unknown as Buffer;
  } catch {
    return []; // removed or never created: there is no log to show, and the caller's error says why
  }
  const parts: Buffer[] = [];
  let rest = Buffer.from(raw);
  while (rest.length >= 8 && (rest[0] === 1 || rest[0] === 2) && rest[1] === 0) {
    const size = rest.readUInt32BE(4);
    parts.push(rest.subarray(8, 8 + size));
    rest = rest.subarray(8 + size);
  }
  if (rest.length > 0) parts.push(rest); // a TTY container's log has no frames
  const text = Buffer.concat(parts).toString('utf8');
  return text
    .split('\n')
    .filter((l, i, all) => l !== '' || i < all.length - 1)
    .slice(-lines);
}

/** Appends a log tail to a message, indented, or says there was no output. */
export function withTail(message: string, tail: string[]): string {
  if (tail.length === 0) return `${message} (no output)`;
  return `${message}; last output:\n${tail.map((l) => `  | ${l}`).join('\n')}`;
}
