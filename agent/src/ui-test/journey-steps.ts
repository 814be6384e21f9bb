// Runs in the journey child: the declared steps, one Playwright call each, and the
// `step(name, fn)` helper a script journey times its own steps with.
import type { Page, Response } from "playwright-core";
import { clip, type JourneyStep, type Measurement, type StepResult } from "./protocol";
import { measurePage } from "./page-metrics";

export class StepFailed extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
  }
}

export interface JourneyState {
  page: Page;
  steps: StepResult[];
  measurements: Measurement[];
  /** The status of the main frame's last navigation (expect: { status }). */
  lastStatus: number | null;
}

/** Times `fn` as the step `name`; a throw records the step failed and rethrows as StepFailed. */
export async function timed(
  state: JourneyState,
  name: string,
  action: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  const started = performance.now();
  try {
    await fn();
    state.steps.push({ name, action, durationMs: performance.now() - started, ok: true });
  } catch (err) {
    const message = clip(err instanceof Error ? firstLines(err.message) : String(err));
    state.steps.push({ name, action, durationMs: performance.now() - started, ok: false, error: message });
    throw err instanceof StepFailed ? err : new StepFailed(name, message);
  }
}

/** Playwright's messages carry a call log after the first lines: keep what says what went wrong. */
const firstLines = (text: string) => text.split("\n").slice(0, 3).join(" ").trim();

export function watchNavigations(state: JourneyState): void {
  state.page.on("response", (r: Response) => {
    if (r.request().isNavigationRequest() && r.frame() === state.page.mainFrame()) state.lastStatus = r.status();
  });
}

export async function runStep(state: JourneyState, s: JourneyStep): Promise<void> {
  const page = state.page;
  await timed(state, s.name, s.action, async () => {
    switch (s.action) {
      case "goto":
        await page.goto(s.target!, { waitUntil: "load" });
        return;
      case "click":
        await page.locator(s.selector!).first().click();
        return;
      case "fill":
        await page
          .locator(s.selector!)
          .first()
          .fill(s.value ?? "");
        return;
      case "expect":
        return expectStep(state, s);
      case "measure":
        state.measurements.push(await measurePage(page, s.name));
        return;
      default:
        throw new Error(`unknown step action '${String(s.action)}'`);
    }
  });
}

async function expectStep(state: JourneyState, s: JourneyStep): Promise<void> {
  if (s.status) {
    if (state.lastStatus !== s.status)
      throw new Error(
        state.lastStatus === null
          ? `expected status ${s.status}, but the page has not navigated yet`
          : `expected status ${s.status}, got ${state.lastStatus} (${state.page.url()})`,
      );
    return;
  }
  if (s.text) {
    await state.page
      .getByText(s.text)
      .first()
      .waitFor({ state: "visible" })
      .catch(() => {
        throw new Error(`expected text ${JSON.stringify(clip(s.text!, 100))} is not on the page (${state.page.url()})`);
      });
    return;
  }
  await state.page
    .locator(s.selector!)
    .first()
    .waitFor({ state: "attached" })
    .catch(() => {
      throw new Error(
        `expected element ${JSON.stringify(clip(s.selector!, 100))} is not on the page (${state.page.url()})`,
      );
    });
}
