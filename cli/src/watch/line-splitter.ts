// Splits log chunks into whole lines, keeping a partial last line per key and
// each line's stream.
import { TextDecoder } from "node:util";

/** Which pipe a line came from; `system` is the farm's own note (e.g. a log limit reached). */
export type StreamName = "stdout" | "stderr" | "system";

/** One line, without its "\n" (and without a "\r" before it). */
export interface SplitLine {
  stream: StreamName;
  text: string;
}

/**
 * Turns a stream of byte chunks per key (stage + attempt) into complete lines, each with
 * its stream. The streams of one key share one current line: a partial line is kept until
 * a later chunk of the same stream completes it, `flush(key)` is called (stage end), or
 * output of another stream of the same key follows: then the partial line is ended as a
 * line of its own, so stdout and stderr are never glued together and keep the order they
 * arrived in. Chunks of other keys may arrive in between. UTF-8 sequences split across
 * chunks of one stream decode intact.
 */
export class LineSplitter {
  private readonly partial = new Map<string, SplitLine>();
  /** One decoder per key and stream (a stream's split UTF-8 sequence waits for that stream). */
  private readonly decoders = new Map<string, Map<StreamName, TextDecoder>>();

  /** Complete lines for `key`: a partial line of another stream first, then the lines in `data`. */
  push(key: string, data: Uint8Array, stream: StreamName = "stdout"): SplitLine[] {
    const out: SplitLine[] = [];
    let held = this.partial.get(key);
    if (held && held.stream !== stream) {
      out.push({ stream: held.stream, text: stripCr(held.text) });
      held = undefined;
    }
    const text = (held?.text ?? "") + this.decoder(key, stream).decode(data, { stream: true });
    const parts = text.split("\n");
    const rest = parts.pop() ?? "";
    if (rest === "") this.partial.delete(key);
    else this.partial.set(key, { stream, text: rest });
    for (const p of parts) out.push({ stream, text: stripCr(p) });
    return out;
  }

  /** The kept partial line of `key` (if any) as a final line; forgets the key. */
  flush(key: string): SplitLine[] {
    const out: SplitLine[] = [];
    const held = this.partial.get(key);
    const decoders = this.decoders.get(key) ?? new Map<StreamName, TextDecoder>();
    if (held) {
      const text = held.text + (decoders.get(held.stream)?.decode() ?? "");
      out.push({ stream: held.stream, text: stripCr(text) });
      decoders.delete(held.stream);
    }
    for (const [stream, decoder] of decoders) {
      const tail = decoder.decode();
      if (tail !== "") out.push({ stream, text: stripCr(tail) });
    }
    this.partial.delete(key);
    this.decoders.delete(key);
    return out;
  }

  /** Keys that still hold a partial line, in first-seen order. */
  pendingKeys(): string[] {
    return [...this.partial.keys()];
  }

  /** Flushes every key; returns each key's final lines. */
  flushAll(): Array<{ key: string; lines: SplitLine[] }> {
    const keys = new Set([...this.partial.keys(), ...this.decoders.keys()]);
    return [...keys].map((key) => ({ key, lines: this.flush(key) })).filter((e) => e.lines.length > 0);
  }

  private decoder(key: string, stream: StreamName): TextDecoder {
    let byStream = this.decoders.get(key);
    if (!byStream) {
      byStream = new Map();
      this.decoders.set(key, byStream);
    }
    let decoder = byStream.get(stream);
    if (!decoder) {
      decoder = new TextDecoder("utf-8");
      byStream.set(stream, decoder);
    }
    return decoder;
  }
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
