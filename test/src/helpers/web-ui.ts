// The browser tests' shared steps: sign in through the UI's token form, and run axe on a page.
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";

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
