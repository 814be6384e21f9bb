import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { sessionKey, signPayload, verifyPayload } from "./signing";

describe("signed NATS payloads", () => {
  const key = sessionKey("dys_example");
  it("round-trips under the right key", () => {
    const payload = Buffer.from("assignment bytes");
    assert.deepEqual(Buffer.from(verifyPayload(key, signPayload(key, payload))!), payload);
  });
  it("refuses another key, a tampered payload and garbage", () => {
    const signed = signPayload(key, Buffer.from("run this"));
    assert.equal(verifyPayload(sessionKey("dys_other"), signed), null);
    const tampered = Buffer.from(signed);
    tampered[4] = tampered[4]! ^ 1;
    assert.equal(verifyPayload(key, tampered), null);
    assert.equal(verifyPayload(key, Buffer.from([0xff, 0xff, 0xff])), null);
  });
});
