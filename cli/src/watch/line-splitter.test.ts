import { test } from "node:test";
import assert from "node:assert/strict";
import { LineSplitter, type SplitLine } from "./line-splitter";

const b = (s: string) => new TextEncoder().encode(s);
const texts = (lines: SplitLine[]) => lines.map((l) => l.text);
const out = (text: string): SplitLine => ({ stream: "stdout", text });
const err = (text: string): SplitLine => ({ stream: "stderr", text });

test("complete lines come out, a partial line waits for its newline", () => {
  const s = new LineSplitter();
  assert.deepEqual(texts(s.push("build#1", b("one\ntw"))), ["one"]);
  assert.deepEqual(texts(s.push("build#1", b("o\nthree"))), ["two"]);
  assert.deepEqual(texts(s.push("build#1", b("\n"))), ["three"]);
  assert.deepEqual(s.flush("build#1"), []);
});

test("keys are independent when chunks interleave", () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push("build#1", b("compil")), []);
  assert.deepEqual(s.push("test#1", b("runn")), []);
  assert.deepEqual(texts(s.push("build#1", b("ing\nlink"))), ["compiling"]);
  assert.deepEqual(texts(s.push("test#1", b("ing\n"))), ["running"]);
  assert.deepEqual(texts(s.push("build#2", b("retry\n"))), ["retry"]);
  assert.deepEqual(s.pendingKeys(), ["build#1"]);
  assert.deepEqual(s.flushAll(), [{ key: "build#1", lines: [out("link")] }]);
  assert.deepEqual(s.pendingKeys(), []);
});

test("flush emits the partial line once; CRLF and empty lines are kept sane", () => {
  const s = new LineSplitter();
  assert.deepEqual(texts(s.push("k", b("a\r\n\nb\r"))), ["a", ""]);
  assert.deepEqual(s.flush("k"), [out("b")]);
  assert.deepEqual(s.flush("k"), []);
});

test("a UTF-8 character split across chunks decodes intact", () => {
  const s = new LineSplitter();
  const bytes = b("héllo ✓\n");
  assert.deepEqual(s.push("k", bytes.subarray(0, 2)), []);
  assert.deepEqual(s.push("k", bytes.subarray(2, 9)), []);
  assert.deepEqual(texts(s.push("k", bytes.subarray(9))), ["héllo ✓"]);
});

test("lines keep their stream; a partial line of one stream is ended when the other stream's output follows", () => {
  const s = new LineSplitter();
  // `printf no-newline-at-end; echo to-stderr >&2`: never `no-newline-at-endto-stderr`.
  assert.deepEqual(s.push("s#1", b("no-newline-at-end"), "stdout"), []);
  assert.deepEqual(s.push("s#1", b("to-stderr\n"), "stderr"), [out("no-newline-at-end"), err("to-stderr")]);
  // And the other way round, with the partial line of stderr completed by more stderr first.
  assert.deepEqual(s.push("s#1", b("warn"), "stderr"), []);
  assert.deepEqual(s.push("s#1", b("ing\nhalf"), "stderr"), [err("warning")]);
  assert.deepEqual(s.push("s#1", b("out\n"), "stdout"), [err("half"), out("out")]);
  // Another key's output does not end this key's partial line.
  assert.deepEqual(s.push("s#1", b("pending"), "stdout"), []);
  assert.deepEqual(s.push("t#1", b("other\n"), "stderr"), [err("other")]);
  assert.deepEqual(s.flush("s#1"), [out("pending")]);
});

test("a UTF-8 sequence split in one stream survives the other stream's output in between", () => {
  const s = new LineSplitter();
  const check = b("✓\n");
  assert.deepEqual(s.push("k", check.subarray(0, 1), "stdout"), []);
  assert.deepEqual(s.push("k", b("e\n"), "stderr"), [err("e")]);
  assert.deepEqual(s.push("k", check.subarray(1), "stdout"), [out("✓")]);
});
