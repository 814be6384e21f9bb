import { test } from "node:test";
import assert from "node:assert/strict";
import { EventBuilder } from "../testing/events";
import { clockTimeUtc } from "../format/time";
import { RunRenderer } from "./renderer";
import type { RenderMode } from "./renderer";

function render(mode: RenderMode, build: (e: EventBuilder) => ReturnType<EventBuilder["log"]>[]) {
  const out: Array<string | Uint8Array> = [];
  const r = new RunRenderer({ write: (c) => out.push(c), mode, formatTime: clockTimeUtc });
  for (const ev of build(new EventBuilder())) r.handle(ev);
  r.end();
  const text = out.map((c) => (typeof c === "string" ? c : new TextDecoder().decode(c))).join("");
  return { text, renderer: r };
}

const scenario = (e: EventBuilder) => [
  e.run(0, "running"),
  e.stage(1, "build", "running", { agentId: "agent-a" }),
  e.stage(1, "lint", "running", { agentId: "agent-b" }),
  e.log(1, "build", "compiling\nlink"),
  e.log(2, "lint", "ok 1\nok"),
  e.log(2, "build", "ing done\nno newline at end"),
  e.stage(3, "build", "succeeded"),
  e.log(3, "lint", " 2\n"),
  e.stage(4, "lint", "failed", { exitCode: 3 }),
  e.run(4.2, "failed"),
];

test("live view: status lines, prefixed interleaved logs, partial lines flushed at stage end, summary", () => {
  const { text, renderer } = render("live", scenario);
  assert.equal(
    text,
    [
      "12:00:00 run  running",
      "12:00:01 build  running  (attempt 1 on agent-a)",
      "12:00:01 lint  running  (attempt 1 on agent-b)",
      "build | compiling",
      "lint | ok 1",
      "build | linking done",
      "build | no newline at end",
      "12:00:03 build  succeeded  exit 0",
      "lint | ok 2",
      "12:00:04 lint  failed  exit 3",
      "run r-1 failed in 4.2s",
      "",
    ].join("\n"),
  );
  assert.equal(renderer.finalState, "failed");
  assert.equal(renderer.durationMs, 4200);
});

test("logs view: log lines only, prefixed [stage]", () => {
  const { text } = render("logs", scenario);
  assert.equal(text, ["[build] compiling", "[lint] ok 1", "[build] linking done", "[build] no newline at end", "[lint] ok 2", ""].join("\n"));
});

test("raw view: bytes unchanged, nothing else", () => {
  const { text } = render("raw", (e) => [e.stage(0, "build", "running"), e.log(1, "build", "a\nb"), e.log(2, "build", "c\n"), e.run(3, "succeeded")]);
  assert.equal(text, "a\nbc\n");
});

test("a retried stage flushes the old attempt's partial line when the new one starts", () => {
  const { text } = render("logs", (e) => [
    e.log(1, "build", "half", 1),
    e.stage(2, "build", "running", { attempt: 2 }),
    e.log(3, "build", "again\n", 2),
  ]);
  assert.equal(text, "[build] half\n[build] again\n");
});

test("partial lines still pending when the stream ends are printed by end()", () => {
  const { text } = render("live", (e) => [e.log(1, "build", "tail without newline")]);
  assert.equal(text, "build | tail without newline\n");
});
