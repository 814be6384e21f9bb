import { test } from "node:test";
import assert from "node:assert/strict";
import { EventBuilder } from "../testing/events";
import { clockTimeUtc } from "../format/time";
import { RunRenderer } from "./renderer";
import type { RenderMode } from "./renderer";

function render(
  mode: RenderMode,
  build: (e: EventBuilder) => ReturnType<EventBuilder["log"]>[],
  opts: { boundaries?: boolean } = {},
) {
  const out: Array<string | Uint8Array> = [];
  const r = new RunRenderer({ write: (c) => out.push(c), mode, formatTime: clockTimeUtc, ...opts });
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
  assert.equal(
    text,
    ["[build] compiling", "[lint] ok 1", "[build] linking done", "[build] no newline at end", "[lint] ok 2", ""].join(
      "\n",
    ),
  );
});

test("raw view: bytes unchanged, nothing else", () => {
  const { text } = render("raw", (e) => [
    e.stage(0, "build", "running"),
    e.log(1, "build", "a\nb"),
    e.log(2, "build", "c\n"),
    e.run(3, "succeeded"),
  ]);
  assert.equal(text, "a\nbc\n");
});

test("a retried stage flushes the old attempt's partial line when the new one starts", () => {
  const { text } = render("logs", (e) => [
    e.log(1, "build", "half", 1),
    e.stage(2, "build", "running", { attempt: 2 }),
    e.log(3, "build", "again\n", 2),
  ]);
  assert.equal(text, "[build] half\n==> build: attempt 2 (after attempt 1) <==\n[build] again\n");
});

// A stage whose first attempt's agent vanished: `lost`, then the retry on another agent.
const lostThenRetried = (e: EventBuilder) => [
  e.run(0, "running"),
  e.stage(1, "build", "running", { agentName: "agent-a" }),
  e.log(2, "build", "attempt 1\nhalf a line", 1),
  e.stage(9, "build", "lost", { agentName: "agent-a", reason: "agent lost: no heartbeat" }),
  e.stage(9, "build", "queued", { reason: "retry after lost" }),
  e.stage(10, "build", "running", { attempt: 2, agentName: "agent-b" }),
  e.log(11, "build", "attempt 2\n", 2),
  e.log(11, "build", "warn: slow\n", 2, "stderr"),
  e.log(11, "build", "done\n", 2),
  e.stage(12, "build", "succeeded", { attempt: 2, agentName: "agent-b" }),
  e.run(12, "succeeded"),
];

test("live view: a lost attempt is its own line before the retry, and the summary lists the attempts", () => {
  const { text } = render("live", lostThenRetried);
  assert.equal(
    text,
    [
      "12:00:00 run  running",
      "12:00:01 build  running  (attempt 1 on agent-a)",
      "build | attempt 1",
      "build | half a line",
      "12:00:09 build  lost  (attempt 1 on agent-a)  (agent lost: no heartbeat)",
      "12:00:09 build  queued  (retry after lost)",
      "12:00:10 build  running  (attempt 2 on agent-b)",
      "build | attempt 2",
      "build ! warn: slow",
      "build | done",
      "12:00:12 build  succeeded  exit 0  (attempt 2)",
      "run r-1 succeeded in 12.0s",
      "  build: attempt 1 lost on agent-a (agent lost: no heartbeat), attempt 2 succeeded on agent-b",
      "",
    ].join("\n"),
  );
});

test("logs view: a boundary names the attempt and how the one before ended; stderr is marked", () => {
  const { text } = render("logs", lostThenRetried);
  assert.equal(
    text,
    [
      "[build] attempt 1",
      "[build] half a line",
      "==> build: attempt 2 (after attempt 1 was lost) <==",
      "[build] attempt 2",
      "[build]! warn: slow",
      "[build] done",
      "",
    ].join("\n"),
  );
});

test("raw view: the boundary starts on its own line; none with a single attempt or when asked for one attempt", () => {
  assert.equal(
    render("raw", lostThenRetried).text,
    "attempt 1\nhalf a line\n==> build: attempt 2 (after attempt 1 was lost) <==\nattempt 2\nwarn: slow\ndone\n",
  );
  assert.equal(render("raw", scenario).text.includes("==>"), false);
  const onlySecond = (e: EventBuilder) => [
    e.stage(10, "build", "running", { attempt: 2 }),
    e.log(11, "build", "attempt 2\n", 2),
    e.run(12, "succeeded"),
  ];
  assert.equal(render("raw", onlySecond, { boundaries: false }).text, "attempt 2\n");
});

test("stdout and stderr are never glued: a partial line ends when the other stream's output follows", () => {
  const { text } = render("live", (e) => [
    e.log(1, "s", "no-newline-at-end", 1, "stdout"),
    e.log(1, "s", "to-stderr\n", 1, "stderr"),
    e.log(1, "s", "[dockyard] log limit reached\n", 1, "system"),
  ]);
  assert.equal(text, "s | no-newline-at-end\ns ! to-stderr\ns * [dockyard] log limit reached\n");
});

test("stderr lines are dimmed on a terminal, the mark stays", async () => {
  const { ttyColors } = await import("./status-format");
  const out: string[] = [];
  const r = new RunRenderer({
    write: (c) => out.push(String(c)),
    mode: "live",
    colors: ttyColors,
    formatTime: clockTimeUtc,
  });
  const e = new EventBuilder();
  r.handle(e.log(1, "s", "oops\n", 1, "stderr"));
  assert.match(out.join(""), /s !.*\x1b\[2moops\x1b\[22m/);
});

test("partial lines still pending when the stream ends are printed by end()", () => {
  const { text } = render("live", (e) => [e.log(1, "build", "tail without newline")]);
  assert.equal(text, "build | tail without newline\n");
});
