// What the masker looks for: the byte strings that reveal a secret. Most are
// literal (base64, JSON escapes), but percent-encoding lets every byte of a
// value be written raw or as `%XX` in either case (and a space as `+`), so
// `quote(v, safe='')`, `curl --data-urlencode`, form encoding and
// `od | sed` each produce another form: 4^n of them for an n-byte value. A
// percent pattern therefore matches byte position by byte position instead of
// listing forms, and costs one pass over the output however they are mixed.

/** Shorter lines of a multi-line secret (`}`, `END`) are too common to mask on their own. */
const MIN_LINE_CHARS = 4;
/** Shorter base64 cores would match ordinary text. */
const MIN_BASE64_CHARS = 6;

const PERCENT = 0x25;
const PLUS = 0x2b;
const SPACE = 0x20;
const HEX_UPPER = Buffer.from("0123456789ABCDEF");
const HEX_LOWER = Buffer.from("0123456789abcdef");
/** Walk results: no occurrence here; the output ends inside a possible one. */
const NONE = -1;
const OPEN = -2;

/** Where one occurrence of a pattern lies in a buffer: `[start, end)`. */
export interface Range {
  start: number;
  end: number;
}

/**
 * One way a secret can appear in output. Pure and immutable: one instance
 * serves every stream at once.
 */
export interface SecretPattern {
  /** The value's bytes in hex: a literal with the key of a percent pattern adds nothing to it. */
  readonly key: string;
  /** Longest occurrence in bytes: what a stream may have to hold back, plus one. */
  readonly maxLength: number;
  /** Every occurrence that starts before `limit`, in order of its start, with the end of its longest variant. */
  each(buf: Buffer, limit: number, found: (start: number, end: number) => void): void;
  /** Whether `buf[i..]` is a proper prefix of some occurrence, so that the next chunk may complete one. */
  open(buf: Buffer, i: number): boolean;
}

/** A fixed byte string, found with `Buffer.indexOf`. */
class LiteralPattern implements SecretPattern {
  readonly key: string;
  readonly maxLength: number;

  constructor(private readonly bytes: Buffer) {
    this.key = bytes.toString("hex");
    this.maxLength = bytes.length;
  }

  each(buf: Buffer, limit: number, found: (start: number, end: number) => void): void {
    const n = this.bytes.length;
    for (let i = buf.indexOf(this.bytes); i !== -1 && i < limit; i = buf.indexOf(this.bytes, i + 1)) found(i, i + n);
  }

  open(buf: Buffer, i: number): boolean {
    const rest = buf.length - i;
    return rest < this.bytes.length && buf.compare(this.bytes, 0, rest, i) === 0;
  }
}

/**
 * A value of which each byte may be raw or `%XX` (hex digits in either case),
 * and a space also `+`. Matching walks the value once per candidate start;
 * only a `%` in the value itself makes it ambiguous (raw `%` or `%25`), and
 * then the walk explores both with a visited set, so the cost stays
 * polynomial whatever the value.
 */
class PercentPattern implements SecretPattern {
  readonly key: string;
  readonly maxLength: number;
  /** Bytes that can start an occurrence, as a lookup table. */
  private readonly starts = new Uint8Array(256);
  private readonly ambiguous: boolean;

  constructor(private readonly bytes: Buffer) {
    this.key = bytes.toString("hex");
    this.maxLength = 3 * bytes.length;
    for (const b of [bytes[0]!, PERCENT, ...(bytes[0] === SPACE ? [PLUS] : [])]) this.starts[b] = 1;
    this.ambiguous = bytes.includes(PERCENT);
  }

  each(buf: Buffer, limit: number, found: (start: number, end: number) => void): void {
    const end = Math.min(limit, buf.length);
    const n = this.bytes.length;
    // An occurrence that is not the raw value holds an escape (`%`, or `+` for a space) within
    // its span of at most 3n bytes. So the candidates are the raw value's occurrences (native
    // indexOf) and the start bytes in the 3n bytes before each escape: ordinary output, with
    // few escapes, costs little more than a literal search.
    const raws: number[] = [];
    for (let i = buf.indexOf(this.bytes); i !== -1 && i < end; i = buf.indexOf(this.bytes, i + 1)) raws.push(i);
    const near: number[] = [];
    let from = 0;
    for (const q of this.escapes(buf, end + this.maxLength)) {
      for (let i = Math.max(from, q - this.maxLength + 1); i <= q && i < end; i++)
        if (this.starts[buf[i]!] === 1) near.push(i);
      from = Math.max(from, q + 1);
    }
    // Both lists are sorted: merge them, each start once.
    for (let r = 0, c = 0; r < raws.length || c < near.length;) {
      const nr = r < raws.length ? raws[r]! : Infinity;
      const nc = c < near.length ? near[c]! : Infinity;
      const i = Math.min(nr, nc);
      if (nr === i) r++;
      if (nc === i) c++;
      // Without a `%` in the value each output byte has one reading: a raw match is the only one.
      const e = this.ambiguous ? this.explore(buf, i).end : nr === i ? i + n : this.follow(buf, i);
      if (e >= 0) found(i, e);
    }
  }

  /** Positions of `%` (and of `+` when the value has a space) before `limit`, in order. */
  private escapes(buf: Buffer, limit: number): number[] {
    const out: number[] = [];
    for (const b of this.bytes.includes(SPACE) ? [PERCENT, PLUS] : [PERCENT]) {
      for (let q = buf.indexOf(b); q !== -1 && q < limit; q = buf.indexOf(b, q + 1)) out.push(q);
    }
    return out.sort((x, y) => x - y);
  }

  open(buf: Buffer, i: number): boolean {
    return this.starts[buf[i]!] === 1 && (this.ambiguous ? this.explore(buf, i).open : this.follow(buf, i) === OPEN);
  }

  /**
   * End of the occurrence from `i` of a value without `%` (one reading per byte): NONE, or OPEN if the output ends
   * inside it.
   */
  private follow(buf: Buffer, i: number): number {
    let p = i;
    for (let j = 0; j < this.bytes.length && p >= 0; j++) p = this.raw(buf, j, p) ?? this.encoded(buf, j, p);
    return p;
  }

  /** The same for a value with a `%`, where an output byte may allow two readings. */
  private explore(buf: Buffer, i: number): { end: number; open: boolean } {
    let end = -1;
    let open = false;
    const seen = new Set<number>();
    const stack: [number, number][] = [[0, i]];
    const width = buf.length + 1;
    while (stack.length > 0) {
      const [j, p] = stack.pop()!;
      if (seen.has(j * width + p)) continue;
      seen.add(j * width + p);
      if (j === this.bytes.length) end = Math.max(end, p);
      else {
        // A `%` in the value may be written raw or as `%25`: try both readings.
        for (const next of [this.raw(buf, j, p) ?? NONE, this.encoded(buf, j, p)]) {
          if (next >= 0) stack.push([j + 1, next]);
          else if (next === OPEN) open = true;
        }
      }
    }
    return { end, open };
  }

  /** Past value byte `j` written raw (or a space as `+`) at output byte `p`; null if it is not there. */
  private raw(buf: Buffer, j: number, p: number): number | null {
    if (p >= buf.length) return OPEN;
    const b = this.bytes[j]!;
    const c = buf[p]!;
    return c === b || (b === SPACE && c === PLUS) ? p + 1 : null;
  }

  /** Past value byte `j` written `%XX` at output byte `p`; NONE if it is not, OPEN if the output ends inside. */
  private encoded(buf: Buffer, j: number, p: number): number {
    if (p >= buf.length) return OPEN;
    if (buf[p] !== PERCENT) return NONE;
    const b = this.bytes[j]!;
    if (p + 1 >= buf.length) return OPEN;
    if (!isHex(buf[p + 1]!, b >> 4)) return NONE;
    if (p + 2 >= buf.length) return OPEN;
    return isHex(buf[p + 2]!, b & 15) ? p + 3 : NONE;
  }
}

function isHex(c: number, nibble: number): boolean {
  return c === HEX_UPPER[nibble] || c === HEX_LOWER[nibble];
}

/**
 * Every pattern whose presence in output reveals `secret`, percent patterns first. Duplicates are removed by the caller
 * (first wins).
 */
export function secretPatterns(secret: Buffer): SecretPattern[] {
  const patterns: SecretPattern[] = [new PercentPattern(secret)]; // also the raw value
  if (secret.includes(0x0a)) patterns.push(...lines(secret).map((l) => new PercentPattern(l)));
  for (const core of base64Cores(secret)) {
    patterns.push(new LiteralPattern(Buffer.from(core, "ascii")));
    patterns.push(new LiteralPattern(Buffer.from(core.replace(/\+/g, "-").replace(/\//g, "_"), "ascii")));
  }
  // Programs see a secret as text (usually from an environment variable), so
  // these encode the decoded string; invalid UTF-8 decodes to U+FFFD, as there.
  const text = secret.toString("utf8");
  const utf8 = Buffer.from(text, "utf8");
  if (!utf8.equals(secret)) patterns.push(new PercentPattern(utf8));
  patterns.push(new LiteralPattern(Buffer.from(JSON.stringify(text).slice(1, -1), "utf8")));
  return patterns;
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
