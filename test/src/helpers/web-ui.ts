// The browser tests' shared steps: start Debian's Chromium, sign in through the UI's token form,
// run axe on a page, and where screenshots go.
import assert from "node:assert/strict";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import { tempDir } from "@dockyard/testkit";
import { REPO_ROOT } from "./farm";

// Root in CI containers: Chromium's sandbox needs a user namespace it does not get here.
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"];

/** Debian's Chromium, headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ARGS });
}

/**
 * Where the browser tests write their screenshots: DOCKYARD_SCREENSHOTS_DIR (e.g. docs/screenshots,
 * to refresh the README's), else a temporary directory: npm test leaves the checkout as it found it.
 */
export const SCREENSHOTS_DIR = process.env.DOCKYARD_SCREENSHOTS_DIR
  ? path.resolve(REPO_ROOT, process.env.DOCKYARD_SCREENSHOTS_DIR)
  : tempDir("screenshots");

/** Fill the login form `page` shows with `token` and wait for the runs page. */
export async function submitLogin(page: Page, base: string, token: string): Promise<void> {
  await page.getByLabel("API token").fill(token);
  await page.keyboard.press("Enter");
  await page.waitForURL(`${base}/`);
}

/** axe on `page`: no serious or critical violation (and it did run its rules). */
export async function axe(page: Page, what: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`),
    [],
    `axe on ${what}`,
  );
  assert.ok(result.passes.length > 10, `axe ran its rules on ${what}`);
}
