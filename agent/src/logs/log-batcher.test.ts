import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LogBatcher } from "./log-batcher";

function harness(room: { open: boolean }, maxChunkBytes = 8) {
  const sent: { stream: number; text: string }[] = [];
  const b = new LogBatcher({
    maxChunkBytes,
    maxDelayMs: 20_000,
    emit: (stream, data) => sent.push({ stream, text: data.toString() }),
    hasRoom: () => room.open,
  });
  return { b, sent };
}

describe("LogBatcher", () => {
  it("sends at once while the window has room", () => {
    const { b, sent } = harness({ open: true });
    b.push(1, Buffer.from("hi\n"));
    assert.deepEqual(sent, [{ stream: 1, text: "hi\n" }]);
  });

  it("coalesces same-stream output while the window is full and keeps order", () => {
    const room = { open: false };
    const { b, sent } = harness(room, 64);
    b.push(1, Buffer.from("a"));
    b.push(1, Buffer.from("b"));
    b.push(2, Buffer.from("E"));
    b.push(1, Buffer.from("c"));
    assert.equal(sent.length, 0);
    room.open = true;
    b.onRoom();
    assert.deepEqual(sent, [
      { stream: 1, text: "ab" },
      { stream: 2, text: "E" },
      { stream: 1, text: "c" },
    ]);
  });

  it("splits output larger than a chunk", () => {
    const { b, sent } = harness({ open: true }, 4);
    b.push(1, Buffer.from("0123456789"));
    assert.deepEqual(
      sent.map((s) => s.text),
      ["0123", "4567", "89"],
    );
  });

  it("flush sends everything regardless of the window", () => {
    const { b, sent } = harness({ open: false });
    b.push(1, Buffer.from("x"));
    b.flush();
    assert.deepEqual(
      sent.map((s) => s.text),
      ["x"],
    );
    assert.equal(b.pendingBytes, 0);
  });

  it("flushes on the timer when no ack makes room", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { b, sent } = harness({ open: false });
    b.push(1, Buffer.from("late"));
    assert.equal(sent.length, 0);
    t.mock.timers.tick(20_000);
    assert.deepEqual(
      sent.map((s) => s.text),
      ["late"],
    );
  });
});
