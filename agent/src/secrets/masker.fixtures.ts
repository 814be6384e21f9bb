// The masker's reference for its tests: forms derived independently of masker.ts
// (base64 from the bits, matching by a naive scan, percent-encodings by a naive
// recursion), so the fuzz test can demand byte-identical output from the
// streaming masker and from this reference.

export interface Form {
  name: string;
  bytes: Buffer;
  /** Any byte may also be written `%XX` (either case), a space also `+`. */
  percent?: boolean;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Base64 characters made only of the secret's bits, for the secret at stream offset k. */
function base64Core(secret: Buffer, k: number): string {
  const bits = [...secret].flatMap((b) => [7, 6, 5, 4, 3, 2, 1, 0].map((i) => (b >> i) & 1));
  // Output characters start every 6 bits of the stream; the first one wholly
  // inside the secret is at secret bit 0, 4 or 2 for k = 0, 1, 2.
  let out = "";
  for (let i = [0, 4, 2][k]!; i + 6 <= bits.length; i += 6) {
    out += B64[bits.slice(i, i + 6).reduce((v, bit) => v * 2 + bit, 0)];
  }
  return out;
}

export function formsOf(secret: Buffer): Form[] {
  const forms: Form[] = [{ name: "raw", bytes: secret, percent: true }];
  if (secret.includes(0x0a)) {
    secret
      .toString("latin1")
      .split("\n")
      .forEach((l, i) => {
        const line = Buffer.from(l.replace(/\r$/, ""), "latin1");
        if ([...line.toString("utf8")].length >= 4) forms.push({ name: `line ${i}`, bytes: line, percent: true });
      });
  }
  for (const k of [0, 1, 2]) {
    const core = base64Core(secret, k);
    if (core.length < 6) continue;
    forms.push({ name: `base64 k=${k}`, bytes: Buffer.from(core) });
    forms.push({ name: `base64url k=${k}`, bytes: Buffer.from(core.replace(/\+/g, "-").replace(/\//g, "_")) });
  }
  const text = secret.toString("utf8");
  // Invalid UTF-8 reaches a program as U+FFFD: its encodings encode that.
  forms.push({ name: "utf8", bytes: Buffer.from(text), percent: true });
  forms.push({ name: "json", bytes: Buffer.from(JSON.stringify(text).slice(1, -1)) });
  const seen = new Set<string>();
  // A literal form equal to a percent form's value adds nothing; percent forms come first.
  return forms.filter((f) => !seen.has(f.bytes.toString("hex")) && !!seen.add(f.bytes.toString("hex")));
}

const UNRESERVED = /[A-Za-z0-9_.~-]/;

/** What programs print for a value (or one of its lines): each a percent-encoding of its bytes. */
export function percentEncodings(value: Buffer, rand: () => number = mulberry32(1)): { name: string; bytes: Buffer }[] {
  const hex = (b: number) => `%${b.toString(16).padStart(2, "0")}`;
  const each = (f: (b: number) => string) => Buffer.from([...value].map(f).join(""), "latin1");
  const keep = (b: number, re: RegExp) => b < 0x80 && re.test(String.fromCharCode(b));
  return [
    { name: "as is", bytes: value },
    // Python's quote(v, safe='') and curl --data-urlencode: RFC 3986 unreserved kept, the rest %XX.
    { name: "quote", bytes: each((b) => (keep(b, UNRESERVED) ? String.fromCharCode(b) : hex(b).toUpperCase())) },
    {
      name: "encodeURIComponent",
      bytes: each((b) => (keep(b, /[A-Za-z0-9_.!~*'()-]/) ? String.fromCharCode(b) : hex(b).toUpperCase())),
    },
    // HTML forms and URLSearchParams: a space is "+".
    {
      name: "form",
      bytes: each((b) =>
        b === 0x20 ? "+" : keep(b, /[A-Za-z0-9_.*-]/) ? String.fromCharCode(b) : hex(b).toUpperCase(),
      ),
    },
    // od -An -tx1 | sed 's/ /%/g': every byte, lower case.
    { name: "od|sed", bytes: each(hex) },
    {
      name: "mixed",
      bytes: each((b) => (rand() < 0.5 ? String.fromCharCode(b) : rand() < 0.5 ? hex(b) : hex(b).toUpperCase())),
    },
  ];
}

/** Ends of the occurrences of `form` that start at `i`. */
function endsAt(buf: Buffer, i: number, form: Form): number[] {
  const v = form.bytes;
  if (!form.percent) return buf.subarray(i, i + v.length).equals(v) ? [i + v.length] : [];
  if (buf[i] !== v[0] && buf[i] !== 0x25 && buf[i] !== 0x2b) return []; // cannot start here (speed only)
  return percentEnds(buf, v, 0, i);
}

/** `buf[p..]` read as `%XX` in any case, or null. */
function escapedByte(buf: Buffer, p: number): number | null {
  if (buf[p] !== 0x25 || p + 3 > buf.length) return null;
  const hex = buf.toString("latin1", p + 1, p + 3);
  return /^[0-9a-fA-F]{2}$/.test(hex) ? parseInt(hex, 16) : null;
}

function percentEnds(buf: Buffer, v: Buffer, j: number, p: number): number[] {
  if (j === v.length) return [p];
  const out: number[] = [];
  if (p < buf.length && (buf[p] === v[j] || (v[j] === 0x20 && buf[p] === 0x2b)))
    out.push(...percentEnds(buf, v, j + 1, p + 1));
  if (escapedByte(buf, p) === v[j]) out.push(...percentEnds(buf, v, j + 1, p + 3));
  return out;
}

/** Whether `buf[i..]` is a proper prefix of an occurrence of `form`. */
function opensAt(buf: Buffer, i: number, form: Form): boolean {
  const v = form.bytes;
  if (!form.percent) return buf.length - i < v.length && v.subarray(0, buf.length - i).equals(buf.subarray(i));
  return percentOpens(buf, v, 0, i);
}

function percentOpens(buf: Buffer, v: Buffer, j: number, p: number): boolean {
  if (j === v.length) return false;
  if (p === buf.length) return true;
  if ((buf[p] === v[j] || (v[j] === 0x20 && buf[p] === 0x2b)) && percentOpens(buf, v, j + 1, p + 1)) return true;
  if (buf[p] !== 0x25) return false;
  const want = `%${v[j]!.toString(16).padStart(2, "0")}`;
  const seen = buf.toString("latin1", p, p + 3).toLowerCase();
  return seen.length < 3 ? want.startsWith(seen) : seen === want && percentOpens(buf, v, j + 1, p + 3);
}

export function allForms(secrets: Buffer[]): Form[] {
  return secrets.flatMap(formsOf);
}

/** Masks every byte inside any occurrence; overlapping occurrences become one `***`. */
export function referenceMask(buf: Buffer, forms: Form[]): Buffer {
  const ranges: [number, number][] = [];
  for (let i = 0; i < buf.length; i++) {
    for (const form of forms) {
      const end = Math.max(-1, ...endsAt(buf, i, form));
      if (end === -1) continue;
      const last = ranges[ranges.length - 1];
      if (last && i < last[1]) last[1] = Math.max(last[1], end);
      else ranges.push([i, end]);
    }
  }
  const parts: Buffer[] = [];
  let pos = 0;
  for (const [start, end] of ranges) (parts.push(buf.subarray(pos, start), Buffer.from("***")), (pos = end));
  parts.push(buf.subarray(pos));
  return Buffer.concat(parts);
}

/** Length of the longest suffix of `buf` that is a proper prefix of a form. */
export function referenceHold(buf: Buffer, forms: Form[]): number {
  // An occurrence is at most three bytes a value byte: only a shorter suffix can be a proper prefix.
  const longest = Math.max(...forms.map((f) => (f.percent ? 3 : 1) * f.bytes.length));
  for (let i = Math.max(0, buf.length - longest); i < buf.length; i++) {
    if (forms.some((f) => opensAt(buf, i, f))) return buf.length - i;
  }
  return 0;
}

export function findLeak(buf: Buffer, forms: Form[]): string | null {
  for (let i = 0; i < buf.length; i++) {
    const f = forms.find((form) => endsAt(buf, i, form).length > 0);
    if (f) return `${f.name} ${JSON.stringify(f.bytes.toString("latin1"))} at ${i}`;
  }
  return null;
}

/** Deterministic PRNG (mulberry32) so that a failing seed reproduces. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
