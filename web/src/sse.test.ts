// SseStream's bound: what the client has not read counts against bufferBytes; a full buffer
// refuses (nothing queued), an empty one still takes one event larger than the bound.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SseStream, encodeEvent } from "./sse";

describe("SseStream", () => {
  it("refuses an event that does not fit, takes it again once the client read", async () => {
    const sse = new SseStream({ bufferBytes: 1024, heartbeatMs: 60_000 });
    const event = (n: number) => ({ id: n, event: "log", data: { seq: n, text: "x".repeat(200) } });
    let sent = 0;
    while (sse.send(event(sent + 1))) sent++;
    assert.ok(sent >= 3 && sent <= 5, `about 1 KiB of 250-byte events (${sent})`);
    assert.ok(sse.buffered <= 1024);
    assert.equal(await sse.waitForRoom(250, 50), false, "no room while nobody reads");
    const reader = sse.stream.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /^retry: 1000/);
    for (let i = 0; i < sent; i++) await reader.read();
    assert.equal(sse.buffered, 0);
    assert.equal(await sse.offer(event(sent + 1), 50), true, "fits once the client read");
    sse.close();
    assert.ok(sse.signal.aborted, "close aborts the producers");
    assert.equal(sse.send(event(99)), false, "nothing is queued after close");
  });

  it("an empty buffer takes one event larger than the bound (a log chunk), then refuses", async () => {
    const sse = new SseStream({ bufferBytes: 64, heartbeatMs: 60_000 });
    const reader = sse.stream.getReader();
    await reader.read(); // retry:
    const big = { id: 1, event: "log", data: { text: "y".repeat(500) } };
    assert.equal(sse.send(big), true);
    assert.equal(sse.send({ id: 2, event: "log", data: { text: "z" } }), false);
    assert.equal(new TextDecoder().decode((await reader.read()).value), new TextDecoder().decode(encodeEvent(big)));
    sse.close();
  });

  it("encodes a data object once, as id, event and one data line", () => {
    const data = { seq: 7, text: "a\nb" };
    const bytes = encodeEvent({ id: 7, event: "log", data });
    assert.equal(new TextDecoder().decode(bytes), `id: 7\nevent: log\ndata: {"seq":7,"text":"a\\nb"}\n\n`);
    assert.equal(encodeEvent({ id: 7, event: "log", data }), bytes, "the same bytes for the same object");
  });
});
