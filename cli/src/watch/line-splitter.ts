// Splits log chunks into whole lines, keeping a partial last line per key.
import { TextDecoder } from "node:util";

/**
 * Turns a stream of byte chunks per key (stage + attempt) into complete lines.
 * A chunk's trailing partial line is kept until a later chunk for the same key
 * completes it or `flush(key)` is called (stage end); chunks for other keys
 * may arrive in between. UTF-8 sequences split across chunks decode intact.
 * Lines are returned without their "\n" (and without a "\r" before it).
 */
export class LineSplitter {
  private readonly partial = new Map<string, string>();
  private readonly decoders = new Map<string, TextDecoder>();

  /** Complete lines in `data` for `key`, prepended with any partial line kept for it. */
  push(key: string, data: Uint8Array): string[] {
    let decoder = this.decoders.get(key);
    if (!decoder) {
      decoder = new TextDecoder("utf-8");
      this.decoders.set(key, decoder);
    }
    const text = (this.partial.get(key) ?? "") + decoder.decode(data, { stream: true });
    const parts = text.split("\n");
    const rest = parts.pop() ?? "";
    if (rest === "") this.partial.delete(key);
    else this.partial.set(key, rest);
    return parts.map(stripCr);
  }

  /** The kept partial line of `key` (if any) as a final line; forgets the key. */
  flush(key: string): string[] {
    const tail = (this.partial.get(key) ?? "") + (this.decoders.get(key)?.decode() ?? "");
    this.partial.delete(key);
    this.decoders.delete(key);
    return tail === "" ? [] : [stripCr(tail)];
  }

  /** Keys that still hold a partial line, in first-seen order. */
  pendingKeys(): string[] {
    return [...this.partial.keys()];
  }

  /** Flushes every key; returns each key's final line. */
  flushAll(): Array<{ key: string; lines: string[] }> {
    const keys = new Set([...this.partial.keys(), ...this.decoders.keys()]);
    return [...keys].map((key) => ({ key, lines: this.flush(key) })).filter((e) => e.lines.length > 0);
  }
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
