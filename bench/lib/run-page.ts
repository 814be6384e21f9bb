// The run page of a finished run with one big log, in Chromium (Debian's, through playwright-core,
// launched as test/src/e2e/web-ui.test.ts does). Logged in through the UI's token form, each load
// opens /runs/:id in a fresh tab, opens the stage's log (a succeeded stage's log starts collapsed:
// a click on its summary, as a user would), waits for all its lines, then presses "/" (focuses
// the search box) and one character, and waits for the filter to be shown.
//
// The times come from the page itself (an init script: performance.now(), whose zero is the
// navigation's start), so they include no polling of ours:
//  - shown: the script marked the log complete (all its lines are in the DOM);
//  - shownPainted / filteredPainted: the first task after the next frame (rendered) once shown /
//    once the search count says how many lines match;
//  - key: the character's keydown in the search box (it waits for a free main thread);
//  - interactiveMs = filteredPainted: the lines are there, and the page took a keystroke, filtered
//    every line and showed it. It includes the search box's 150 ms debounce and our round trips
//    between "shown" and the key (key - shownPainted).
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
// As the browser test: root here, and Chromium's sandbox needs a user namespace it does not get.
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"];

export interface RunPageLoad {
  shown: number;
  shownPainted: number;
  key: number;
  filteredPainted: number;
  /** From Date.now() before page.goto to the page's filteredPainted, seen from here. */
  wallMs: number;
  /** Where the time to `shown` went: DOMContentLoaded, the log opened (the click), its fetch's request, first and last byte. */
  dcl: number;
  opened: number;
  logRequest: number;
  logResponse: number;
  logEnd: number;
}

interface Marks {
  shown?: number;
  shownPainted?: number;
  key?: number;
  filtered?: number;
  filteredPainted?: number;
  lines?: number;
  lastLine?: string;
  matches?: number;
  error?: string;
  dcl?: number;
  opened?: number;
  logRequest?: number;
  logResponse?: number;
  logEnd?: number;
}

const recorder = (stage: string) => `(() => {
  const marks = (window.__runPageBench = {});
  const stamp = (name) => { if (marks[name] === undefined) marks[name] = performance.now(); };
  const afterPaint = (name) => requestAnimationFrame(() => setTimeout(() => stamp(name), 0));
  document.addEventListener("DOMContentLoaded", () => {
    stamp("dcl");
    const details = document.querySelector('details[data-stage="' + CSS.escape(${JSON.stringify(stage)}) + '"]');
    const input = document.getElementById("log-search");
    const count = document.getElementById("search-count");
    if (!details || !input || !count) { marks.error = "no log, search box or search count on the page"; return; }
    const box = details.querySelector(".log-lines");
    details.addEventListener("toggle", () => stamp("opened"));
    input.addEventListener("keydown", (e) => { if (e.key !== "/") stamp("key"); });
    new MutationObserver(() => {
      if (details.dataset.complete !== "true" || marks.shown !== undefined) return;
      stamp("shown");
      const log = performance.getEntriesByType("resource").find((r) => r.name.includes("/logs?"));
      if (log) { marks.logRequest = log.requestStart; marks.logResponse = log.responseStart; marks.logEnd = log.responseEnd; }
      // The lines sit in blocks (run.js); count them, not the blocks.
      const lines = box.querySelectorAll(".line");
      marks.lines = lines.length;
      marks.lastLine = lines[lines.length - 1]?.textContent ?? "";
      afterPaint("shownPainted");
    }).observe(details, { attributes: true, attributeFilter: ["data-complete"] });
    new MutationObserver(() => {
      const m = /^(\\d+) matching lines$/.exec(count.textContent ?? "");
      if (!m || marks.filtered !== undefined) return;
      stamp("filtered");
      marks.matches = Number(m[1]);
      afterPaint("filteredPainted");
    }).observe(count, { childList: true, characterData: true, subtree: true });
  });
})();`;

export async function loginContext(browser: Browser, base: string, token: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/`);
  if (!/\/login\?next=%2F$/.test(page.url())) throw new Error(`expected the login form, got ${page.url()}`);
  await page.getByLabel("API token").fill(token);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${base}/`);
  await page.close();
  return context;
}

async function oneLoad(
  page: Page,
  url: string,
  stage: string,
  expect: { lines: number; lastLine: string; key: string; matches: number },
): Promise<RunPageLoad> {
  const t0 = Date.now();
  await page.goto(url);
  await page.getByText(`Log of ${stage}`, { exact: true }).click();
  await page.locator(`details[data-stage="${stage}"][data-complete="true"]`).waitFor({ timeout: 60_000 });
  await page.keyboard.press("/");
  await page.keyboard.press(expect.key);
  await page.waitForFunction("window.__runPageBench.filteredPainted !== undefined", undefined, { timeout: 30_000 });
  const wallMs = Date.now() - t0;
  const m = (await page.evaluate("window.__runPageBench")) as Marks;
  if (m.error) throw new Error(m.error);
  if (m.lines !== expect.lines || m.lastLine !== expect.lastLine)
    throw new Error(
      `the log held ${m.lines} lines ending "${m.lastLine}", not ${expect.lines} ending "${expect.lastLine}"`,
    );
  if (m.matches !== expect.matches)
    throw new Error(`"${expect.key}" matched ${m.matches} lines, not ${expect.matches}`);
  return {
    shown: m.shown!,
    shownPainted: m.shownPainted!,
    key: m.key!,
    filteredPainted: m.filteredPainted!,
    wallMs,
    dcl: m.dcl ?? NaN,
    opened: m.opened ?? NaN,
    logRequest: m.logRequest ?? NaN,
    logResponse: m.logResponse ?? NaN,
    logEnd: m.logEnd ?? NaN,
  };
}

/**
 * `loads` loads of the run page of `runId` (finished), each in a fresh tab of one logged-in
 * context (so the assets are cached after the first, as for a user coming back).
 */
export async function measureRunPage(opts: {
  base: string;
  token: string;
  runId: string;
  stage: string;
  loads: number;
  expect: { lines: number; lastLine: string; key: string; matches: number };
}): Promise<RunPageLoad[]> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const context = await loginContext(browser, opts.base, opts.token);
    await context.addInitScript({ content: recorder(opts.stage) });
    const out: RunPageLoad[] = [];
    for (let i = 0; i < opts.loads; i++) {
      const page = await context.newPage();
      try {
        out.push(await oneLoad(page, `${opts.base}/runs/${opts.runId}`, opts.stage, opts.expect));
      } finally {
        await page.close();
      }
    }
    return out;
  } finally {
    await browser.close();
  }
}
