// Masks a stage attempt's secret values in its output before the bytes are
// stored or sent, the way the GitHub Actions runner does: the raw value, each
// line of a multi-line value, its base64 in every alignment and both alphabets,
// and its URL and JSON encodings.
//
// Matching is on bytes. Every byte inside any occurrence of any form is masked,
// and occurrences that overlap collapse into one `***`: taking only the
// leftmost-longest match and skipping past it would leave the tail of a second,
// overlapping secret in the clear. The result does not depend on how the output
// was cut into chunks.

const MASK = Buffer.from("***");
const EMPTY = Buffer.alloc(0);
/** Shorter lines of a multi-line secret (`}`, `END`) are too common to mask on their own. */
const MIN_LINE_CHARS = 4;
/** Shorter base64 cores would match ordinary text. */
const MIN_BASE64_CHARS = 6;

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
  private readonly patterns: readonly Buffer[];

  constructor(secrets: Uint8Array[]) {
    const unique = new Map<string, Buffer>();
    for (const secret of secrets) {
      for (const form of secretForms(Buffer.from(secret))) {
        if (form.length > 0) unique.set(form.toString("latin1"), form);
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
 * longest form minus one byte) and returns everything before it, masked.
 * Never throws.
 */
export interface StreamMasker {
  /** Mask `chunk`; may hold back a tail that could be the start of a secret, returned by a later push or by flush. The result may share memory with `chunk`. */
  push(chunk: Buffer): Buffer;
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

  constructor(private readonly patterns: readonly Buffer[]) {}

  push(chunk: Buffer): Buffer {
    if (this.patterns.length === 0) return chunk;
    if (chunk.length === 0) return EMPTY;
    const buf = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    return this.emit(buf, holdStart(buf, this.patterns));
  }

  flush(): Buffer {
    return this.emit(this.held, this.held.length);
  }

  /** Returns `buf[0, hold)` masked and keeps the rest for the next call. */
  private emit(buf: Buffer, hold: number): Buffer {
    const ranges = findRanges(buf, hold, this.patterns, this.carry);
    let carry = hold === 0 ? this.carry : 0;
    this.held = hold === buf.length ? EMPTY : Buffer.from(buf.subarray(hold));
    if (ranges.length === 0) {
      this.carry = carry;
      return hold === buf.length ? buf : buf.subarray(0, hold);
    }
    const parts: Buffer[] = [];
    let pos = 0;
    for (const r of ranges) {
      parts.push(buf.subarray(pos, r.start));
      // A range at 0 that contains the carry continues an occurrence already masked.
      if (!(r.start === 0 && this.carry > 0)) parts.push(MASK);
      pos = Math.min(r.end, hold);
      if (r.end > hold) carry = r.end - hold;
    }
    parts.push(buf.subarray(pos, hold));
    this.carry = carry;
    return Buffer.concat(parts);
  }
}

interface Range {
  start: number;
  end: number;
}

/**
 * Earliest position from which the rest of `buf` is a proper prefix of some
 * pattern (`buf.length` if none): what must wait for the next chunk.
 */
function holdStart(buf: Buffer, patterns: readonly Buffer[]): number {
  let hold = buf.length;
  for (const p of patterns) {
    const first = p[0]!;
    // Only a suffix shorter than `p` can be a proper prefix of it.
    let i = buf.indexOf(first, Math.max(0, buf.length - p.length + 1));
    while (i !== -1 && i < hold) {
      if (buf.compare(p, 0, buf.length - i, i) === 0) {
        hold = i;
        break;
      }
      i = buf.indexOf(first, i + 1);
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
function findRanges(buf: Buffer, limit: number, patterns: readonly Buffer[], carry: number): Range[] {
  const found: Range[] = carry > 0 ? [{ start: 0, end: carry }] : [];
  for (const p of patterns) {
    let last: Range | undefined;
    // Search from every position, not from the end of the last hit: a value
    // like "abababab" also occurs at offset 2 of "ababababab".
    for (let i = buf.indexOf(p); i !== -1 && i < limit; i = buf.indexOf(p, i + 1)) {
      if (last && i < last.end) last.end = i + p.length;
      else found.push((last = { start: i, end: i + p.length }));
    }
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

/** Every byte string whose presence in output reveals `secret`. */
function secretForms(secret: Buffer): Buffer[] {
  const forms: Buffer[] = [secret];
  if (secret.includes(0x0a)) forms.push(...lines(secret));
  for (const core of base64Cores(secret)) {
    forms.push(Buffer.from(core, "ascii"));
    forms.push(Buffer.from(core.replace(/\+/g, "-").replace(/\//g, "_"), "ascii"));
  }
  // Programs see a secret as text (usually from an environment variable), so
  // these encode the decoded string; invalid UTF-8 decodes to U+FFFD, as there.
  const text = secret.toString("utf8");
  forms.push(Buffer.from(encodeURIComponent(text), "utf8"));
  forms.push(Buffer.from(JSON.stringify(text).slice(1, -1), "utf8"));
  return forms; // duplicates (an encoding equal to the raw value) are removed by the caller
}

/** Lines of a multi-line secret, as printed one by one (`\n` or `\r\n` endings). */
function lines(secret: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start <= secret.length) {
    let end = secret.indexOf(0x0a, start);
    if (end === -1) end = secret.length;
    let line = secret.subarray(start, end);
    if (line[line.length - 1] === 0x0d) line = line.subarray(0, -1);
    if ([...line.toString("utf8")].length >= MIN_LINE_CHARS) out.push(line);
    start = end + 1;
  }
  return out;
}

/**
 * The part of base64(k zero bytes + secret) that depends only on the secret,
 * for k = 0, 1, 2: the secret may start at any offset of an encoded stream.
 * Characters that mix in bits from before or after the secret are dropped.
 */
function base64Cores(secret: Buffer): string[] {
  const cores: string[] = [];
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), secret]).toString("base64");
    const start = Math.ceil((8 * k) / 6); // 0, 2 or 3 characters
    const end = Math.floor((8 * (k + secret.length)) / 6);
    if (end - start >= MIN_BASE64_CHARS) cores.push(encoded.slice(start, end));
  }
  return cores;
}
