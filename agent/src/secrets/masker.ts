// Masks a stage attempt's secret values in its output before the bytes are
// stored or sent, the way the GitHub Actions runner does: the raw value, each
// line of a multi-line value, its base64 in every alignment and both alphabets,
// every percent-encoding of it and its JSON encoding (see secret-patterns.ts).
//
// Matching is on bytes. Every byte inside any occurrence of any form is masked,
// and occurrences that overlap collapse into one `***`: taking only the
// leftmost-longest match and skipping past it would leave the tail of a second,
// overlapping secret in the clear. The result does not depend on how the output
// was cut into chunks.

import { secretPatterns, type Range, type SecretPattern } from "./secret-patterns";

const MASK = Buffer.from("***");
const EMPTY = Buffer.alloc(0);

/**
 * Masks the secrets of one stage attempt. Immutable once built, so one instance
 * may serve both output streams and error texts at once; each stream gets its
 * own `StreamMasker` because it holds state between writes.
 *
 * Values are expected to be at least 8 bytes (the caller's rule for defining a
 * secret); a shorter one is still masked rather than dropped, since dropping it
 * would leak it. Empty values are ignored.
 */
export class SecretMasker {
  private readonly patterns: readonly SecretPattern[];

  constructor(secrets: Uint8Array[]) {
    const unique = new Map<string, SecretPattern>();
    for (const secret of secrets) {
      if (secret.length === 0) continue;
      for (const pattern of secretPatterns(Buffer.from(secret))) {
        if (pattern.maxLength > 0 && !unique.has(pattern.key)) unique.set(pattern.key, pattern);
      }
    }
    this.patterns = [...unique.values()];
  }

  /** False when there is nothing to mask; streams then pass output through untouched. */
  get active(): boolean {
    return this.patterns.length > 0;
  }

  /** A masker for one output stream (stdout and stderr are masked separately). */
  stream(): StreamMasker {
    return new ChunkMasker(this.patterns);
  }

  /** Mask a whole string (for messages such as an error text). */
  maskText(text: string): string {
    if (!this.active) return text;
    const s = this.stream();
    return Buffer.concat([s.push(Buffer.from(text, "utf8")), s.flush()]).toString("utf8");
  }
}

/**
 * Masks one output stream written in chunks. Call `push` for each write in
 * order and `flush` once when the stream ends; not safe to call concurrently.
 * A secret may be split across any number of chunks, so `push` holds back the
 * shortest tail that could still grow into a secret (never more than the
 * longest form minus one byte: three times the longest value, percent-encoded) and returns everything before it, masked.
 * Never throws.
 */
export interface StreamMasker {
  /** Mask `chunk`; may hold back a tail that could be the start of a secret, returned by a later push or by flush. The result may share memory with `chunk`. */
  push(chunk: Buffer): Buffer;
  /**
   * `push`, with its result cut in two: what stands for the bytes held back
   * before this chunk (an occurrence that starts there counts whole), and what
   * stands for the chunk itself; for callers that keep their place in a
   * sequence with other streams.
   */
  pushParts(chunk: Buffer): [held: Buffer, fresh: Buffer];
  /** Bytes held back now (a later push or flush returns them). */
  readonly holding: number;
  /** Everything held back, masked (the stream ended). */
  flush(): Buffer;
}

class ChunkMasker implements StreamMasker {
  /** Bytes held back by the last push (a copy, so the caller may reuse its buffers). */
  private held: Buffer = EMPTY;
  /**
   * How many leading bytes of `held` belong to an occurrence whose `***` was
   * already returned. They are masked with no second `***` if the occurrence
   * turns out to overlap the next one.
   */
  private carry = 0;

  constructor(private readonly patterns: readonly SecretPattern[]) {}

  get holding(): number {
    return this.held.length;
  }

  push(chunk: Buffer): Buffer {
    if (this.patterns.length === 0) return chunk;
    const [held, fresh] = this.pushParts(chunk);
    return held.length === 0 ? fresh : fresh.length === 0 ? held : Buffer.concat([held, fresh]);
  }

  pushParts(chunk: Buffer): [Buffer, Buffer] {
    if (this.patterns.length === 0) return [EMPTY, chunk];
    if (chunk.length === 0) return [EMPTY, EMPTY];
    const split = this.held.length;
    const buf = split === 0 ? chunk : Buffer.concat([this.held, chunk]);
    return this.emit(buf, holdStart(buf, this.patterns), split);
  }

  flush(): Buffer {
    return this.emit(this.held, this.held.length, this.held.length)[0];
  }

  /** Returns `buf[0, hold)` masked, cut where `split` falls, and keeps the rest for the next call. */
  private emit(buf: Buffer, hold: number, split: number): [Buffer, Buffer] {
    const ranges = findRanges(buf, hold, this.patterns, this.carry);
    let carry = hold === 0 ? this.carry : 0;
    this.held = hold === buf.length ? EMPTY : Buffer.from(buf.subarray(hold));
    if (ranges.length === 0) {
      this.carry = carry;
      const cut = Math.min(split, hold);
      return [buf.subarray(0, cut), hold === buf.length && cut === 0 ? buf : buf.subarray(cut, hold)];
    }
    const early: Buffer[] = [];
    const late: Buffer[] = [];
    const plain = (from: number, to: number): void => {
      if (from < split) early.push(buf.subarray(from, Math.min(to, split)));
      if (to > split) late.push(buf.subarray(Math.max(from, split), to));
    };
    let pos = 0;
    for (const r of ranges) {
      plain(pos, r.start);
      // A range at 0 that contains the carry continues an occurrence already masked.
      if (!(r.start === 0 && this.carry > 0)) (r.start < split ? early : late).push(MASK);
      pos = Math.min(r.end, hold);
      if (r.end > hold) carry = r.end - hold;
    }
    plain(pos, hold);
    this.carry = carry;
    return [Buffer.concat(early), Buffer.concat(late)];
  }
}

/**
 * Earliest position from which the rest of `buf` is a proper prefix of some
 * pattern (`buf.length` if none): what must wait for the next chunk.
 */
function holdStart(buf: Buffer, patterns: readonly SecretPattern[]): number {
  let hold = buf.length;
  for (const p of patterns) {
    // Only a suffix shorter than the longest occurrence can be a proper prefix of one.
    for (let i = Math.max(0, buf.length - p.maxLength + 1); i < hold; i++) {
      if (p.open(buf, i)) {
        hold = i;
        break;
      }
    }
  }
  return hold;
}

/**
 * Occurrences of any pattern that start before `limit`, plus `[0, carry)`,
 * sorted and merged where they overlap (touching ranges stay apart, so a range
 * that ends at `limit` is final). Later starts are in the held-back tail and
 * are found again by the next call.
 */
function findRanges(buf: Buffer, limit: number, patterns: readonly SecretPattern[], carry: number): Range[] {
  const found: Range[] = carry > 0 ? [{ start: 0, end: carry }] : [];
  for (const p of patterns) {
    let last: Range | undefined;
    // Search from every position, not from the end of the last hit: a value
    // like "abababab" also occurs at offset 2 of "ababababab".
    p.each(buf, limit, (start, end) => {
      if (last && start < last.end) last.end = Math.max(last.end, end);
      else found.push((last = { start, end }));
    });
  }
  if (found.length <= 1) return found;
  found.sort((a, b) => a.start - b.start);
  const merged: Range[] = [found[0]!];
  for (const r of found) {
    const cur = merged[merged.length - 1]!;
    if (r.start < cur.end) cur.end = Math.max(cur.end, r.end);
    else merged.push(r);
  }
  return merged;
}
