import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SecretMasker } from "../secrets/masker";
import { MAX_WAITING_BYTES, OrderedOutput } from "./ordered-output";

const OUT = 1;
const ERR = 2;
const SECRET = Buffer.from("order-secret-1234");

type Piece = [number, string];

/** Feeds `reads` (stream, text) in order; returns what was emitted, adjacent pieces of one stream joined. */
function run(masker: SecretMasker, reads: Piece[], flush = true): Piece[] {
  const out: Piece[] = [];
  const o = new OrderedOutput(masker, (stream, data) => {
    assert.ok(data.length > 0, "an empty piece was emitted");
    const last = out[out.length - 1];
    if (last && last[0] === stream) last[1] += data.toString();
    else out.push([stream, data.toString()]);
  });
  for (const [stream, text] of reads) o.push(stream, Buffer.from(text));
  if (flush) o.flush();
  return out;
}

describe("OrderedOutput", () => {
  it("keeps stderr behind a stdout tail held back as a possible secret, which then takes its own place", () => {
    const reads: Piece[] = [
      [OUT, "line one\nord"],
      [ERR, "warning\n"],
      [OUT, "inary line\n"],
    ];
    // Positive control: masking each stream on its own, as the runner did, lets the stderr line jump ahead.
    const masker = new SecretMasker([SECRET]);
    const streams: Record<number, ReturnType<SecretMasker["stream"]>> = {
      [OUT]: masker.stream(),
      [ERR]: masker.stream(),
    };
    const naive = reads.map(([s, t]) => [s, streams[s]!.push(Buffer.from(t)).toString()]);
    assert.deepEqual(naive, [
      [OUT, "line one\n"],
      [ERR, "warning\n"],
      [OUT, "ordinary line\n"],
    ]);
    assert.deepEqual(run(masker, reads), [
      [OUT, "line one\nord"],
      [ERR, "warning\n"],
      [OUT, "inary line\n"],
    ]);
  });

  it("masks a secret split around other output, in the place where it started", () => {
    const masker = new SecretMasker([SECRET]);
    const reads: Piece[] = [
      [OUT, "token: ord"],
      [ERR, "e1\n"],
      [OUT, "er-sec"],
      [ERR, "e2\n"],
      [OUT, "ret-1234 done\n"],
    ];
    assert.deepEqual(run(masker, reads), [
      [OUT, "token: ***"],
      [ERR, "e1\ne2\n"],
      [OUT, " done\n"],
    ]);
  });

  it("emits a tail held to the end when the streams end", () => {
    const masker = new SecretMasker([SECRET]);
    assert.deepEqual(
      run(masker, [
        [OUT, "ord"],
        [ERR, "e\n"],
      ]),
      [
        [OUT, "ord"],
        [ERR, "e\n"],
      ],
    );
    assert.deepEqual(run(masker, [[OUT, "ord"]], false), []); // held until the flush
  });

  it("lets waiting output pass a held tail once more than MAX_WAITING_BYTES wait, still masking the tail", () => {
    const masker = new SecretMasker([SECRET]);
    const flood = "x".repeat(MAX_WAITING_BYTES / 2);
    const out = run(masker, [
      [OUT, "ord"],
      [ERR, flood],
      [ERR, flood],
      [ERR, "!"],
      [OUT, "er-secret-1234\n"],
    ]);
    assert.deepEqual(
      out.map(([s, t]) => [s, t.length > 20 ? t.length : t]),
      [
        [ERR, MAX_WAITING_BYTES + 1],
        [OUT, "***\n"],
      ],
    );
  });

  it("passes output straight through without secrets", () => {
    const reads: Piece[] = [
      [OUT, "a"],
      [ERR, "b"],
      [OUT, "c"],
    ];
    assert.deepEqual(run(new SecretMasker([]), reads), reads);
  });
});
