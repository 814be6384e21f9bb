import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SecretMasker } from "./masker";
import {
  allForms,
  findLeak,
  formsOf,
  mulberry32,
  percentEncodings,
  referenceHold,
  referenceMask,
} from "./masker.fixtures";

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

  const variants = forms.flatMap((f) =>
    f.percent ? percentEncodings(f.bytes).map((e) => ({ name: `${f.name} ${e.name}`, bytes: e.bytes })) : [f],
  );
  for (const form of variants) {
    it(`masks the ${form.name} form in one chunk, in two or three chunks split anywhere, and byte by byte`, () => {
      const masker = new SecretMasker([SECRET]);
      const text = Buffer.concat([Buffer.from("log: "), form.bytes, Buffer.from(" :end")]);
      const want = "log: *** :end";
      assert.ok(findLeak(text, forms)); // positive control
      assert.equal(feed(new SecretMasker([]), [text]).toString(), text.toString());
      assert.equal(feed(masker, [text]).toString(), want);
      for (let i = 0; i <= text.length; i++) {
        for (let j = i; j <= text.length; j++)
          assert.equal(feed(masker, splits(text, [i, j])).toString(), want, `cuts ${i},${j}`);
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
    for (let i = 0; i <= printed.length; i++)
      assert.equal(feed(masker, splits(printed, [i])).toString(), want, `cut ${i}`);
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
    const alphabet = [...Buffer.from("abcdfghijklmnopqrsuvwxyz ABCDEFGHIJKLMNOPQSTUVWXYZ0123456789.,:;\n\t-é")].filter(
      (b) => !firsts.has(b),
    );
    const rand = mulberry32(7);
    const s = new SecretMasker([SECRET]).stream();
    for (let n = 0; n < 200; n++) {
      const chunk = Buffer.from(
        Array.from({ length: 1 + Math.floor(rand() * 300) }, () => alphabet[Math.floor(rand() * alphabet.length)]!),
      );
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
    const masker = new SecretMasker([
      Buffer.from("alpha-one-two"),
      Buffer.from("one-two-three"),
      Buffer.from("abababab"),
    ]);
    const text = Buffer.from("[alpha-one-two-three] abababababab");
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++)
        assert.equal(feed(masker, splits(text, [i, j])).toString(), "[***] ***", `cuts ${i},${j}`);
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

const SECRET_CHARS = [
  '"',
  "/",
  "+",
  "=",
  "\n",
  "\r\n",
  "\\",
  "%",
  " ",
  "\t",
  "é",
  "€",
  "😀",
  "&",
  "?",
  "a",
  "Z",
  "0",
  "_",
  "-",
  "k",
  "Q",
];
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
        assert.equal(
          emitted.length,
          fed.length - referenceHold(fed, forms),
          `${msg}: held back too much or too little`,
        );
      }
      assert.deepEqual(Buffer.concat([emitted, s.flush()]), plain, `${msg}: filler changed`);
    }
  });
});

describe("SecretMasker: large output", () => {
  it("masks 32 MiB in 64 KiB chunks, and a long self-overlapping run, in linear time", { timeout: 30_000 }, () => {
    const masker = new SecretMasker([SECRET, Buffer.from("aaaaaaaa"), Buffer.from("line1\nline2-secret")]);
    const block = Buffer.concat([
      Buffer.alloc(65_536 - 40, "build output line\n"),
      SECRET,
      Buffer.alloc(40 - SECRET.length, "x"),
    ]);
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
