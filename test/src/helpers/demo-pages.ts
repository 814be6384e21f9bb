// The web UI of a running demo farm, in Chromium: each main page shows what the demo made (its
// three example runs, the webapp's stage graph with its images, the staging service, the alert
// that rolled it back, the two agents, the audit of the demo's approval), passes axe, and is
// captured (SCREENSHOTS_DIR: these are the README's).
import assert from "node:assert/strict";
import path from "node:path";
import { axe, launchChromium, SCREENSHOTS_DIR, submitLogin } from "./web-ui";

export interface DemoPagesInput {
  /** The demo server's HTTP address, e.g. http://127.0.0.1:27601. */
  base: string;
  /** The demo's admin API token (DEMO/api-token). */
  token: string;
  /** The webapp example's run. */
  webappRun: string;
  /** The names of the demo's agents and its service. */
  agents: string[];
  service: string;
}

/** Visits, checks and captures every main page of the demo's web UI; see the file comment. */
export async function captureDemoPages(input: DemoPagesInput): Promise<string[]> {
  const browser = await launchChromium();
  const shots: string[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${input.base}/`);
    await submitLogin(page, input.base, input.token);
    const pages: [url: string, name: string, heading: RegExp, shows: string[]][] = [
      ["/", "runs", /^Runs$/, ["hello", "webapp", "shop-journey", "break-staging"]],
      [`/runs/${input.webappRun}`, "run", /webapp/, ["succeeded", "sizes"]],
      ["/services", "services", /^Services$/, [input.service]],
      ["/alerts", "alerts", /^Alerts$/, ["DockyardJourneyFailing"]],
      ["/agents", "agents", /^Agents$/, input.agents],
      ["/environments", "environments", /^Environments$/, []],
      ["/approvals", "approvals", /^Approvals$/, []],
      ["/audit", "audit", /^Audit log$/, ["approval.approved"]],
    ];
    for (const [url, name, heading, shows] of pages) {
      await page.goto(`${input.base}${url}`);
      await page.getByRole("heading", { level: 1, name: heading }).waitFor({ timeout: 15_000 });
      const main = page.locator("main");
      for (const text of shows) {
        assert.ok((await main.getByText(text).count()) > 0, `${url} shows '${text}'`);
      }
      const file = path.join(SCREENSHOTS_DIR, `${name}.png`);
      // The run page lists every stage's attempts and outputs below the graph: its top is the picture.
      await page.screenshot({ path: file, fullPage: name !== "run" });
      shots.push(file);
      await axe(page, `the demo's ${url}`);
    }
    await context.close();
  } finally {
    await browser.close();
  }
  return shots;
}
