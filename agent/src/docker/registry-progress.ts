/**
 * Reads a dockerd JSON progress stream (push, pull) event by event. We do not use
 * `modem.followProgress`: it hands over the events only at the end and does not treat
 * in-band `errorDetail` lines as failures, while we must stream lines as they come and
 * must see every error.
 */
export interface ProgressEvent {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

export interface ProgressResult {
  /** The first in-band error's message, if any (the engine stops after it). */
  error?: string;
  aux?: ProgressEvent['aux'];
}

/**
 * Consumes `stream` to its end. `onLine` gets one compact line per layer status change
 * ("c9ee8fbf2bb3: Pushed"), not one per progress tick, and every id-less status line
 * ("The push refers to repository …"). Rejects when the stream errors (e.g. on abort).
 */
export async function readProgress(
  stream: NodeJS.ReadableStream,
  onLine: (line: string) => void,
): Promise<ProgressResult> {
  const result: ProgressResult = {};
  const lastStatus = new Map<string, string>();
  const handle = (ev: ProgressEvent): void => {
    const err = ev.errorDetail?.message ?? ev.error;
    if (err) {
      result.error ??= err;
      return;
    }
    if (ev.aux) {
      if (ev.aux.Digest) result.aux = ev.aux;
      return;
    }
    if (!ev.status) return;
    if (ev.id) {
      // Pull reports "Pulling from repo" with the tag as id: an ordinary line.
      if (lastStatus.get(ev.id) === ev.status) return;
      lastStatus.set(ev.id, ev.status);
      onLine(`${ev.id}: ${ev.status}`);
    } else {
      onLine(ev.status);
    }
  };

  let buf = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      parseLine(buf.slice(0, nl), handle);
      buf = buf.slice(nl + 1);
    }
  }
  parseLine(buf, handle);
  return result;
}

function parseLine(line: string, handle: (ev: ProgressEvent) => void): void {
  const text = line.trim();
  if (!text) return;
  let ev: ProgressEvent;
  try {
    ev = JSON.parse(text) as ProgressEvent;
  } catch {
    // Not JSON (should not happen with dockerd): keep it visible as a plain line.
    ev = { status: text };
  }
  handle(ev);
}
