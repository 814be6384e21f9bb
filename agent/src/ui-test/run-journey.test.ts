// The journey child against a local page with real Chromium: steps timed, vitals measured, a
// failure's step, error, console errors and screenshot; a script journey; the child's uid.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { removeOnExit, removeTempDir, tempDir } from "@dockyard/testkit";
import { checkReachable, runJourneyChild, JOURNEY_UID } from "./run-journey";
import { startTestSite, type TestSite } from "./test-site";
import type { JourneyStep } from "./protocol";

let site: TestSite;
before(async () => (site = await startTestSite()));
after(() => site.close());

const run = (steps: JourneyStep[], scriptFile: string | null = null) =>
  runJourneyChild({ baseUrl: site.url, steps, scriptFile, stepTimeoutMs: 3000, journeyTimeoutMs: 60_000 });

test("a passing journey: every step timed and ok, navigation timing and web vitals of the measured page", async () => {
  // A killed agent's journey directory is swept by the next journey; a live process's stays.
  const gone = spawnSync("true");
  const orphan = path.join(os.tmpdir(), `dy-journey-${gone.pid}-orphan`);
  const live = path.join(os.tmpdir(), "dy-journey-1-live");
  mkdirSync(orphan);
  mkdirSync(live);
  removeOnExit(orphan);
  removeOnExit(live);
  const r = await run([
    { action: "goto", name: "home", target: "/" },
    { action: "expect", name: "status", status: 200 },
    { action: "expect", name: "welcome", text: "Welcome to the shop" },
    { action: "measure", name: "home-page" },
    { action: "fill", name: "user", selector: "#user", value: "ann" },
    { action: "click", name: "sign in", selector: "#go" },
    { action: "expect", name: "greeted", selector: "h1:has-text('Hello ann')" },
  ]);
  assert.equal(r.ok, true, JSON.stringify({ ...r, screenshot: null }));
  assert.deepEqual(
    r.steps.map((s) => [s.name, s.action, s.ok]),
    [
      ["home", "goto", true],
      ["status", "expect", true],
      ["welcome", "expect", true],
      ["home-page", "measure", true],
      ["user", "fill", true],
      ["sign in", "click", true],
      ["greeted", "expect", true],
    ],
  );
  for (const s of r.steps) assert.ok(s.durationMs >= 0 && s.durationMs < 30_000, `${s.name}: ${s.durationMs}`);
  assert.ok(r.durationMs >= r.steps.reduce((n, s) => n + s.durationMs, 0));
  const [m] = r.measurements;
  assert.equal(m!.name, "home-page");
  assert.equal(m!.url, `${site.url}/`);
  const v = m!.vitals;
  assert.ok(v.ttfb !== null && v.ttfb > 0, `ttfb ${v.ttfb}`);
  assert.ok(v.fcp !== null && v.fcp >= v.ttfb, `fcp ${v.fcp}`);
  assert.ok(v.lcp !== null && v.lcp >= v.fcp, `lcp ${v.lcp}`);
  assert.equal(v.cls, 0, "nothing on the page shifts");
  assert.ok(m!.navigation.loadEventEnd! >= m!.navigation.responseStart!);
  assert.equal(r.screenshot, null, "no screenshot of a passing journey");
  assert.equal(r.failedStep, null);
  assert.equal(existsSync(orphan), false, "the dead agent's directory is gone");
  assert.equal(existsSync(live), true, "a live process's directory stays");
  assert.deepEqual(
    readdirSync(os.tmpdir()).filter((n) => n.startsWith(`dy-journey-${process.pid}-`)),
    [],
    "the journey's own directory is removed",
  );
});

test("a failing expect: the failing step and its error, the page's console errors, a PNG screenshot", async () => {
  const r = await run([
    { action: "goto", name: "home", target: "/" },
    { action: "expect", name: "banner", text: "Free shipping today" },
    { action: "click", name: "never", selector: "#go" },
  ]);
  assert.equal(r.ok, false);
  assert.equal(r.failedStep, "banner");
  assert.match(r.error!, /expected text "Free shipping today" is not on the page/);
  assert.deepEqual(
    r.steps.map((s) => [s.name, s.ok]),
    [
      ["home", true],
      ["banner", false],
    ],
    "the journey stops at the failed step",
  );
  assert.ok(r.consoleErrors.includes("cart service unavailable"), r.consoleErrors.join("; "));
  const png = Buffer.from(r.screenshot!, "base64");
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG signature");
  assert.ok(png.length > 1000);
  // A status check reads the last navigation's status.
  const notFound = await run([
    { action: "goto", name: "missing", target: "/nope" },
    { action: "expect", name: "ok", status: 200 },
  ]);
  assert.equal(notFound.failedStep, "ok");
  assert.match(notFound.error!, /expected status 200, got 404/);
});

test("a script journey: its step() calls are timed, a throw fails its step; the child runs as uid 65534", async () => {
  const dir = tempDir("journey-script");
  chmodSync(dir, 0o755);
  const secret = path.join(dir, "agent.key");
  const open = path.join(dir, "public.txt");
  writeFileSync(secret, "agent private key", { mode: 0o600 });
  writeFileSync(open, "public words", { mode: 0o644 });
  // Positive control: the agent (root) reads the key.
  assert.equal(readFileSync(secret, "utf8"), "agent private key");
  const script = path.join(dir, "journey.mjs");
  writeFileSync(
    script,
    `import { readFileSync } from "node:fs";
export default async (page, { baseUrl, step }) => {
  await step("open home", () => page.goto(baseUrl + "/"));
  await step("uid", async () => { if (process.getuid() !== ${JOURNEY_UID}) throw new Error("uid " + process.getuid()); });
  await step("env", async () => { const keys = Object.keys(process.env).filter((k) => k.startsWith("DOCKYARD")); if (keys.length) throw new Error("env: " + keys); });
  await step("read public", async () => { if (readFileSync(${JSON.stringify(open)}, "utf8") !== "public words") throw new Error("wrong"); });
  await step("read key", async () => readFileSync(${JSON.stringify(secret)}, "utf8"));
  await step("after", async () => undefined);
};
`,
  );
  process.env.DOCKYARD_TEST_MARKER = "must not reach the child";
  try {
    const r = await run([], script);
    assert.deepEqual(
      r.steps.map((s) => [s.name, s.action, s.ok]),
      [
        ["open home", "script", true],
        ["uid", "script", true],
        ["env", "script", true],
        ["read public", "script", true],
        ["read key", "script", false],
      ],
      JSON.stringify(r.steps),
    );
    assert.equal(r.failedStep, "read key");
    assert.match(r.error!, /EACCES: permission denied/);
    assert.ok(r.screenshot, "a failed script journey has its screenshot too");
  } finally {
    delete process.env.DOCKYARD_TEST_MARKER;
  }
});

test("a directory the journey's uid cannot enter is refused, naming it; one others may pass through is not", async () => {
  const root = tempDir("journey-reach");
  try {
    const closed = path.join(root, "closed");
    const open = path.join(root, "open");
    mkdirSync(path.join(closed, "journey"), { recursive: true });
    mkdirSync(path.join(open, "journey"), { recursive: true });
    chmodSync(root, 0o711);
    chmodSync(closed, 0o700);
    chmodSync(open, 0o711);
    await assert.rejects(
      checkReachable(path.join(closed, "journey"), JOURNEY_UID),
      new RegExp(`under ${closed} \\(mode 700\\), which uid ${JOURNEY_UID} cannot enter: give the agent a TMPDIR`),
    );
    await checkReachable(path.join(open, "journey"), JOURNEY_UID);
  } finally {
    removeTempDir(root);
  }
});
