import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SecretMasker } from "./masker";

// The forms are derived here independently of masker.ts (base64 from the bits,
// matching by a naive scan, percent-encodings by a naive recursion), so the fuzz
// test can demand byte-identical output from the streaming masker and from this
// reference.

interface Form {
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

function formsOf(secret: Buffer): Form[] {
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
function percentEncodings(value: Buffer, rand: () => number = mulberry32(1)): { name: string; bytes: Buffer }[] {
  const hex = (b: number) => `%${b.toString(16).padStart(2, "0")}`;
  const each = (f: (b: number) => string) => Buffer.from([...value].map(f).join(""), "latin1");
  const keep = (b: number, re: RegExp) => b < 0x80 && re.test(String.fromCharCode(b));
  return [
    { name: "as is", bytes: value },
    // Python's quote(v, safe='') and curl --data-urlencode: RFC 3986 unreserved kept, the rest %XX.
    { name: "quote", bytes: each((b) => (keep(b, UNRESERVED) ? String.fromCharCode(b) : hex(b).toUpperCase())) },
    { name: "encodeURIComponent", bytes: each((b) => (keep(b, /[A-Za-z0-9_.!~*'()-]/) ? String.fromCharCode(b) : hex(b).toUpperCase())) },
    // HTML forms and URLSearchParams: a space is "+".
    { name: "form", bytes: each((b) => (b === 0x20 ? "+" : keep(b, /[A-Za-z0-9_.*-]/) ? String.fromCharCode(b) : hex(b).toUpperCase())) },
    // od -An -tx1 | sed 's/ /%/g': every byte, lower case.
    { name: "od|sed", bytes: each(hex) },
    { name: "mixed", bytes: each((b) => (rand() < 0.5 ? String.fromCharCode(b) : rand() < 0.5 ? hex(b) : hex(b).toUpperCase())) },
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
  if (p < buf.length && (buf[p] === v[j] || (v[j] === 0x20 && buf[p] === 0x2b))) out.push(...percentEnds(buf, v, j + 1, p + 1));
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

function allForms(secrets: Buffer[]): Form[] {
  return secrets.flatMap(formsOf);
}

/** Masks every byte inside any occurrence; overlapping occurrences become one `***`. */
function referenceMask(buf: Buffer, forms: Form[]): Buffer {
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
function referenceHold(buf: Buffer, forms: Form[]): number {
  // An occurrence is at most three bytes a value byte: only a shorter suffix can be a proper prefix.
  const longest = Math.max(...forms.map((f) => (f.percent ? 3 : 1) * f.bytes.length));
  for (let i = Math.max(0, buf.length - longest); i < buf.length; i++) {
    if (forms.some((f) => opensAt(buf, i, f))) return buf.length - i;
  }
  return 0;
}

function findLeak(buf: Buffer, forms: Form[]): string | null {
  for (let i = 0; i < buf.length; i++) {
    const f = forms.find((form) => endsAt(buf, i, form).length > 0);
    if (f) return `${f.name} ${JSON.stringify(f.bytes.toString("latin1"))} at ${i}`;
  }
  return null;
}

function feed(masker: SecretMasker, chunks: Buffer[]): Buffer {
  const s = masker.stream();
  return Buffer.concat([...chunks.map((c) => s.push(c)), s.flush()]);
}

function splits(buf: Buffer, cuts: number[]): Buffer[] {
  return [0, ...cuts].map((start, i) => buf.subarray(start, [...cuts, buf.length][i]));
}

const SECRET = Buffer.from('tok"en/+=\\ ?&é€>>?');

describe("SecretMasker: each form", () => {
  const forms = formsOf(SECRET);

  it("covers every kind of form for the test secret", () => {
    for (const kind of ["raw", "base64 k=0", "base64 k=1", "base64 k=2", "base64url k=0", "json"]) {
      assert.ok(
        forms.some((f) => f.name === kind),
        kind,
      );
    }
  });

  const variants = forms.flatMap((f) => (f.percent ? percentEncodings(f.bytes).map((e) => ({ name: `${f.name} ${e.name}`, bytes: e.bytes })) : [f]));
  for (const form of variants) {
    it(`masks the ${form.name} form in one chunk, in two or three chunks split anywhere, and byte by byte`, () => {
      const masker = new SecretMasker([SECRET]);
      const text = Buffer.concat([Buffer.from("log: "), form.bytes, Buffer.from(" :end")]);
      const want = "log: *** :end";
      assert.ok(findLeak(text, forms)); // positive control
      assert.equal(feed(new SecretMasker([]), [text]).toString(), text.toString());
      assert.equal(feed(masker, [text]).toString(), want);
      for (let i = 0; i <= text.length; i++) {
        for (let j = i; j <= text.length; j++) assert.equal(feed(masker, splits(text, [i, j])).toString(), want, `cuts ${i},${j}`);
      }
      assert.equal(
        feed(
          masker,
          [...text].map((b) => Buffer.from([b])),
        ).toString(),
        want,
      );
    });
  }

  it("masks the secret inside a real base64 stream at every offset and both alphabets", () => {
    const masker = new SecretMasker([SECRET]);
    for (let k = 0; k < 3; k++) {
      for (const url of [false, true]) {
        let encoded = Buffer.concat([Buffer.from("xyz".slice(0, k)), SECRET, Buffer.from("!?")]).toString("base64");
        if (url) encoded = encoded.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
        const text = Buffer.from(`data=${encoded}\n`);
        assert.ok(findLeak(text, forms), "positive control");
        for (let i = 0; i <= text.length; i++) {
          const out = feed(masker, splits(text, [i]));
          assert.equal(findLeak(out, forms), null, `k=${k} url=${url} cut ${i}: ${out}`);
          const core = forms.find((f) => f.name === `${url ? "base64url" : "base64"} k=${k}`)!.bytes.toString();
          assert.equal(out.toString(), `data=${encoded.replace(core, "***")}\n`, `k=${k} url=${url} cut ${i}`);
        }
      }
    }
  });

  it("masks a value whose '!' a program wrote as %21 (RFC 3986: quote, curl --data-urlencode), and %2d-style lower case", () => {
    const value = "S3cr3t-Value-42!xyz";
    const masker = new SecretMasker([Buffer.from(value)]);
    const printed = `token=${value.replace(/!/g, "%21")} other=${value.replace(/-/g, "%2d")} form=${value.replace("!", "%21")}+x`;
    assert.notEqual(new SecretMasker([]).maskText(printed), "token=*** other=*** form=***+x"); // positive control
    assert.equal(masker.maskText(printed), "token=*** other=*** form=***+x");
    // A space written as "+" (forms) is the value too; a "+" next to it is not.
    assert.equal(new SecretMasker([Buffer.from("open sesame 42")]).maskText("q=open+sesame%2042+"), "q=***+");
  });

  it("masks each line of a multi-line secret on its own, but not lines under 4 characters", () => {
    const key = Buffer.from("-----BEGIN KEY-----\r\nMIIBOgIBAAJBAKj34\r\nab\r\nGxq9=\r\n-----END KEY-----");
    const masker = new SecretMasker([key]);
    assert.equal(masker.maskText(`k=${key}`), "k=***");
    const printed = Buffer.from("> -----BEGIN KEY-----\n> MIIBOgIBAAJBAKj34\n> ab\n> Gxq9=\n> -----END KEY-----\n");
    const want = "> ***\n> ***\n> ab\n> ***\n> ***\n";
    for (let i = 0; i <= printed.length; i++) assert.equal(feed(masker, splits(printed, [i])).toString(), want, `cut ${i}`);
  });
});

describe("SecretMasker: ordinary output", () => {
  it("changes nothing and holds nothing back without secrets", () => {
    const masker = new SecretMasker([Buffer.alloc(0)]);
    assert.equal(masker.active, false);
    assert.equal(new SecretMasker([SECRET]).active, true);
    const s = masker.stream();
    const chunk = Buffer.from("tok tok\n");
    assert.equal(s.push(chunk), chunk);
    assert.equal(s.flush().length, 0);
    assert.equal(masker.maskText("tok"), "tok");
  });

  it("passes output that cannot start a secret through at once, byte-identical", () => {
    const forms = formsOf(SECRET);
    const firsts = new Set(forms.map((f) => f.bytes[0]));
    const alphabet = [...Buffer.from("abcdfghijklmnopqrsuvwxyz ABCDEFGHIJKLMNOPQSTUVWXYZ0123456789.,:;\n\t-é")].filter((b) => !firsts.has(b));
    const rand = mulberry32(7);
    const s = new SecretMasker([SECRET]).stream();
    for (let n = 0; n < 200; n++) {
      const chunk = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => alphabet[Math.floor(rand() * alphabet.length)]!));
      assert.deepEqual(s.push(chunk), chunk, `chunk ${n}`);
    }
    assert.equal(s.flush().length, 0);
  });

  it("holds back exactly the tail that could start a secret, and releases it when it does not", () => {
    const s = new SecretMasker([SECRET]).stream();
    assert.equal(s.push(Buffer.from("hello tok")).toString(), "hello ");
    assert.equal(s.push(Buffer.from('"e')).toString(), "");
    assert.equal(s.push(Buffer.from("ntirely other")).toString(), 'tok"entirely other');
    assert.equal(s.push(Buffer.from("to")).toString(), "");
    assert.equal(s.flush().toString(), "to");
  });

  it("masks overlapping occurrences as one, leaving no tail of either", () => {
    // Leftmost-longest alone would give "[***-three]" and "***ab".
    const masker = new SecretMasker([Buffer.from("alpha-one-two"), Buffer.from("one-two-three"), Buffer.from("abababab")]);
    const text = Buffer.from("[alpha-one-two-three] abababababab");
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) assert.equal(feed(masker, splits(text, [i, j])).toString(), "[***] ***", `cuts ${i},${j}`);
    }
    assert.equal(masker.maskText("one-two-threealpha-one-two"), "******"); // touching, not overlapping: two masks
  });
});

describe("SecretMasker: short values", () => {
  it("still masks a value under 8 bytes raw, but not base64 cores under 6 characters", () => {
    const masker = new SecretMasker([Buffer.from("k3y!")]);
    assert.deepEqual(
      formsOf(Buffer.from("k3y!")).map((f) => f.name),
      ["raw"],
    ); // "!" needs no URL or JSON escape
    assert.equal(masker.maskText("key k3y! as base64 azN5IQ=="), "key *** as base64 azN5IQ==");
    // At 5 bytes every alignment leaves a 6-character core.
    assert.equal(new SecretMasker([Buffer.from("k3y!!")]).maskText(Buffer.from("k3y!!").toString("base64")), "***E=");
  });
});

describe("SecretMasker.maskText", () => {
  it("masks raw, encoded and non-ASCII secrets in a message", () => {
    const masker = new SecretMasker([SECRET, Buffer.from("pässwörd-日本語")]);
    const b64 = SECRET.toString("base64");
    const msg = `push failed: token ${SECRET} (b64 ${b64}) url=${encodeURIComponent(SECRET.toString())} for pässwörd-日本語!`;
    assert.equal(masker.maskText(msg), "push failed: token *** (b64 ***) url=*** for ***!");
    assert.equal(masker.maskText("nothing to see"), "nothing to see");
  });
});

/** Deterministic PRNG (mulberry32) so that a failing seed reproduces. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SECRET_CHARS = ['"', "/", "+", "=", "\n", "\r\n", "\\", "%", " ", "\t", "é", "€", "😀", "&", "?", "a", "Z", "0", "_", "-", "k", "Q"];
const FILLER_CHARS = [..."abcdefghijklmnopqrstuvwxyz      .,:;()[]{}#<>|0123456789\n\n\"'/=+-_é日"];

describe("SecretMasker: fuzz", () => {
  it("never leaks a form, matches the reference at any chunking, and leaves filler alone", () => {
    const BASE_SEED = 0x5eed0000;
    for (let iter = 0; iter < 300; iter++) {
      const seed = BASE_SEED + iter;
      const rand = mulberry32(seed);
      const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));

      const secrets = Array.from({ length: int(1, 3) }, () => {
        const len = int(8, 40);
        if (rand() < 0.2) return bytes(len); // arbitrary bytes, often invalid UTF-8
        const alphabet = SECRET_CHARS.filter(() => rand() < 0.5).concat(pick(SECRET_CHARS));
        let s = Buffer.alloc(0);
        while (s.length < len) s = Buffer.concat([s, Buffer.from(pick(alphabet))]);
        return s.subarray(0, 40);
      });
      const forms = allForms(secrets);
      const masker = new SecretMasker(secrets);
      const filler = () => Buffer.from(Array.from({ length: int(0, 120) }, () => pick(FILLER_CHARS)).join(""));
      const encoded = (s: Buffer): Buffer => {
        const text = s.toString("utf8");
        const lines = formsOf(s).filter((f) => f.name.startsWith("line"));
        switch (int(0, 5)) {
          case 0:
            return s;
          case 1:
            return lines.length > 0 ? pick(lines).bytes : s;
          case 2:
            return Buffer.from(JSON.stringify({ token: text }));
          case 3: {
            const value = lines.length > 0 && rand() < 0.3 ? pick(lines).bytes : s;
            return Buffer.concat([Buffer.from("?q="), pick(percentEncodings(value, rand)).bytes, Buffer.from("&x=1")]);
          }
          default: {
            const b64 = Buffer.concat([bytes(int(0, 4)), s, bytes(int(0, 4))]).toString("base64");
            return Buffer.from(rand() < 0.5 ? b64 : b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));
          }
        }
      };
      const pieces: Buffer[] = [];
      const fillers: Buffer[] = [];
      for (let n = int(1, 8); n > 0; n--) {
        const f = filler();
        fillers.push(f);
        const secret = encoded(pick(secrets));
        assert.ok(findLeak(secret, forms), `seed ${seed}: positive control for an inserted form`);
        pieces.push(f, secret);
      }
      const output = Buffer.concat(pieces);
      const chunked = (buf: Buffer): Buffer[] => {
        const maxChunk = pick([1, 3, 16, 200, buf.length + 1]);
        const cuts: number[] = [];
        for (let at = int(0, maxChunk); at < buf.length; at += int(1, maxChunk)) cuts.push(at);
        return splits(buf, cuts);
      };

      const msg = `seed ${seed}, secrets ${JSON.stringify(secrets.map((s) => s.toString("hex")))}`;
      assert.ok(findLeak(feed(new SecretMasker([]), chunked(output)), forms), `${msg}: positive control`);
      const masked = feed(masker, chunked(output));
      assert.equal(findLeak(masked, forms), null, `${msg}: leaked`);
      assert.deepEqual(masked, referenceMask(output, forms), `${msg}: differs from the reference`);

      const plain = Buffer.concat(fillers);
      assert.equal(findLeak(plain, forms), null, `${msg}: filler happens to contain a form; pick another seed range`);
      const s = masker.stream();
      let fed = Buffer.alloc(0);
      let emitted = Buffer.alloc(0);
      for (const c of chunked(plain)) {
        fed = Buffer.concat([fed, c]);
        emitted = Buffer.concat([emitted, s.push(c)]);
        assert.equal(emitted.length, fed.length - referenceHold(fed, forms), `${msg}: held back too much or too little`);
      }
      assert.deepEqual(Buffer.concat([emitted, s.flush()]), plain, `${msg}: filler changed`);
    }
  });
});

describe("SecretMasker: large output", () => {
  it("masks 32 MiB in 64 KiB chunks, and a long self-overlapping run, in linear time", { timeout: 30_000 }, () => {
    const masker = new SecretMasker([SECRET, Buffer.from("aaaaaaaa"), Buffer.from("line1\nline2-secret")]);
    const block = Buffer.concat([Buffer.alloc(65_536 - 40, "build output line\n"), SECRET, Buffer.alloc(40 - SECRET.length, "x")]);
    const s = masker.stream();
    let bytes = 0;
    for (let i = 0; i < 512; i++) {
      const out = s.push(block);
      bytes += out.length;
      assert.equal(out.includes(SECRET), false);
    }
    bytes += s.flush().length;
    assert.equal(bytes, 512 * (block.length - SECRET.length + 3));
    const run = Buffer.alloc(4 << 20, "a");
    assert.equal(
      feed(
        masker,
        splits(
          run,
          Array.from({ length: 63 }, (_, i) => (i + 1) * 65_536),
        ),
      ).toString(),
      "***",
    );
  });
});
