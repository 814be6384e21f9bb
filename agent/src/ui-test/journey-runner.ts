// The journey child: the one process that runs a ui-test's browser and the journey's own
// code. Spawned by the agent (run-journey.ts) with `node` (this file, or dist/ui-journey.js in
// the bundled agent: scripts/build.ts emits it), it reads one JSON request on stdin and writes
// one JSON result on stdout, then exits.
//
// Why a child process, and why this one: a journey is user code (a script from the run's
// source) driving a browser that loads any page. Run inside the agent it could read the
// agent's key, its state directory and every other stage's secrets. So it runs in a process
// of its own, with a cleared environment (no DOCKYARD_* variable, no key path), a fresh 0700
// profile directory, and — when the agent runs as root — under the unprivileged uid/gid 65534
// (setpriv --reuid --regid --clear-groups --no-new-privs), which cannot read the agent's 0600
// files. A container image with Debian's chromium would isolate more (its own filesystem), but
// needs an image build on every agent host and Docker for a kind that needs none; the uid
// boundary keeps the agent's secrets out of reach with what every Debian host has. The
// channel is bounded both ways (protocol.ts) and the agent kills the child past its deadline.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type BrowserContext } from "playwright-core";
import {
  CHROMIUM,
  MAX_CONSOLE_ERRORS,
  MAX_REQUEST_BYTES,
  MAX_RUNS,
  clip,
  type EarlierRun,
  type JourneyRequest,
  type JourneyResult,
} from "./protocol";
import { StepFailed, runStep, timed, watchNavigations, type JourneyState } from "./journey-steps";
import { measurePage } from "./page-metrics";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-dev-shm-usage",
];

// stdout is the result channel: whatever else a journey prints goes to stderr.
const toStderr = (...args: unknown[]) => process.stderr.write(`${args.map(String).join(" ")}\n`);
console.log = console.info = console.debug = toStderr;

/**
 * The journey's runs until one passes (at most `req.runs`), in ONE browser: a retry is a fresh
 * context (no cookies, storage or cache of the failed run), not a second browser start.
 */
async function runJourney(req: JourneyRequest): Promise<JourneyResult> {
  let browser: Browser;
  const started = performance.now();
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  } catch (err) {
    const result = emptyResult();
    result.failedStep = "browser";
    result.error = clip(err instanceof Error ? err.message.split("\n")[0]! : String(err));
    result.durationMs = performance.now() - started;
    return result;
  }
  try {
    const earlier: EarlierRun[] = [];
    for (;;) {
      const result = await runOnce(browser, req);
      if (result.ok || earlier.length + 1 >= Math.min(req.runs, MAX_RUNS)) return { ...result, earlier };
      earlier.push({ durationMs: result.durationMs, failedStep: result.failedStep, error: result.error });
    }
  } finally {
    await browser.close().catch(() => undefined);
  }
}

function emptyResult(): JourneyResult {
  return {
    ok: false,
    durationMs: 0,
    steps: [],
    failedStep: null,
    error: null,
    consoleErrors: [],
    measurements: [],
    screenshot: null,
    earlier: [],
  };
}

/** One run of the journey in a fresh browser context. */
async function runOnce(browser: Browser, req: JourneyRequest): Promise<JourneyResult> {
  const started = performance.now();
  const result = emptyResult();
  const noteError = (text: string) => {
    if (result.consoleErrors.length < MAX_CONSOLE_ERRORS) result.consoleErrors.push(clip(text));
  };
  let state: JourneyState | null = null;
  let context: BrowserContext | null = null;
  try {
    context = await browser.newContext({ baseURL: req.baseUrl, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(req.stepTimeoutMs);
    page.setDefaultNavigationTimeout(req.stepTimeoutMs);
    page.on("console", (m) => {
      if (m.type() === "error") noteError(m.text());
    });
    page.on("pageerror", (e) => noteError(`uncaught: ${e.message}`));
    const s: JourneyState = { page, steps: result.steps, measurements: result.measurements, lastStatus: null };
    state = s;
    watchNavigations(s);
    if (req.script) {
      const mod = (await import(pathToFileURL(req.script).href)) as { default?: unknown };
      if (typeof mod.default !== "function")
        throw new StepFailed("script", "the journey script has no default export function (page, { baseUrl, step })");
      const step = (name: unknown, fn: unknown) => {
        if (typeof name !== "string" || !/^[^\n]{1,80}$/.test(name) || typeof fn !== "function")
          throw new Error("step(name, fn): name is 1-80 characters on one line and fn a function");
        return timed(s, name, "script", async () => (fn as () => unknown)());
      };
      await (mod.default as (p: unknown, ctx: unknown) => Promise<unknown>)(page, { baseUrl: req.baseUrl, step });
    } else {
      for (const st of req.steps) await runStep(s, st);
    }
    // The journey's vitals are its last measurement's; the final page is measured when none was asked for.
    if (result.measurements.length === 0 && page.url() !== "about:blank")
      result.measurements.push(await measurePage(page, "final"));
    result.ok = true;
  } catch (err) {
    result.ok = false;
    if (err instanceof StepFailed) {
      result.failedStep = err.step;
      result.error = err.message;
    } else {
      // A throw outside any timed step: the script's own code, the browser, or the final measurement.
      result.failedStep = req.script ? "script" : state ? "journey" : "browser";
      result.error = clip(err instanceof Error ? err.message.split("\n")[0]! : String(err));
    }
    if (state) {
      const shot = await state.page.screenshot({ type: "png", timeout: 5000 }).catch(() => null);
      result.screenshot = shot ? shot.toString("base64") : null;
    }
  } finally {
    await context?.close().catch(() => undefined);
  }
  result.durationMs = performance.now() - started;
  return result;
}

function readRequest(): JourneyRequest {
  const text = readFileSync(0, "utf8");
  if (Buffer.byteLength(text) > MAX_REQUEST_BYTES) throw new Error("request too large");
  return JSON.parse(text) as JourneyRequest;
}

async function main(): Promise<void> {
  const req = readRequest();
  const limit = req.journeyTimeoutMs * Math.min(Math.max(1, req.runs), MAX_RUNS);
  const deadline = setTimeout(() => {
    process.stderr.write(`journey runner: gave up after ${limit} ms\n`);
    process.exit(3);
  }, limit);
  const result = await runJourney(req);
  clearTimeout(deadline);
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

main().catch((err: unknown) => {
  process.stderr.write(`journey runner: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
