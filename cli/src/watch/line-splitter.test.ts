import { test } from "node:test";
import assert from "node:assert/strict";
import { LineSplitter } from "./line-splitter";

const b = (s: string) => new TextEncoder().encode(s);

test("complete lines come out, a partial line waits for its newline", () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push("build#1", b("one\ntw")), ["one"]);
  assert.deepEqual(s.push("build#1", b("o\nthree")), ["two"]);
  assert.deepEqual(s.push("build#1", b("\n")), ["three"]);
  assert.deepEqual(s.flush("build#1"), []);
});

test("keys are independent when chunks interleave", () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push("build#1", b("compil")), []);
  assert.deepEqual(s.push("test#1", b("runn")), []);
  assert.deepEqual(s.push("build#1", b("ing\nlink")), ["compiling"]);
  assert.deepEqual(s.push("test#1", b("ing\n")), ["running"]);
  assert.deepEqual(s.push("build#2", b("retry\n")), ["retry"]);
  assert.deepEqual(s.pendingKeys(), ["build#1"]);
  assert.deepEqual(s.flushAll(), [{ key: "build#1", lines: ["link"] }]);
  assert.deepEqual(s.pendingKeys(), []);
});

test("flush emits the partial line once; CRLF and empty lines are kept sane", () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push("k", b("a\r\n\nb\r")), ["a", ""]);
  assert.deepEqual(s.flush("k"), ["b"]);
  assert.deepEqual(s.flush("k"), []);
});

test("a UTF-8 character split across chunks decodes intact", () => {
  const s = new LineSplitter();
  const bytes = b("héllo ✓\n");
  assert.deepEqual(s.push("k", bytes.subarray(0, 2)), []);
  assert.deepEqual(s.push("k", bytes.subarray(2, 9)), []);
  assert.deepEqual(s.push("k", bytes.subarray(9)), ["héllo ✓"]);
});
