// What the agent and its journey child (journey-runner.ts) say to each other over the
// child's stdin and stdout: one JSON request in, one JSON result out, both bounded. Plain
// data only, so neither side trusts the other's objects (the child runs user code).

/** Debian's browser (ENVIRONMENT.md §7); never a downloaded one. Its presence is the `browser` capability. */
export const CHROMIUM = "/usr/bin/chromium";

/** One declared step (the proto's UiStep, as plain data). */
export interface JourneyStep {
  action: "goto" | "click" | "fill" | "expect" | "measure";
  name: string;
  target?: string;
  selector?: string;
  value?: string;
  text?: string;
  status?: number;
}

export interface JourneyRequest {
  baseUrl: string;
  /** Declared steps; empty with `script`. */
  steps: JourneyStep[];
  /** Absolute path of the journey module (a copy the child may read); null with steps. */
  script: string | null;
  /** Per step (a locator's wait, a navigation). */
  stepTimeoutMs: number;
  /** One run of the journey; the child gives up past `runs` of them (the agent kills it a little later). */
  journeyTimeoutMs: number;
  /** Runs until one passes (1 + the stage's retries), in one browser, each in a fresh context. */
  runs: number;
}

/** An earlier run of the same request that failed (the result itself describes the last run). */
export interface EarlierRun {
  durationMs: number;
  failedStep: string | null;
  error: string | null;
}

export interface StepResult {
  name: string;
  /** The declared action, or "script" for a script's step(). */
  action: string;
  durationMs: number;
  ok: boolean;
  error?: string;
}

/** Web vitals in milliseconds (CLS: unitless); null when the page did not produce one. */
export interface Vitals {
  ttfb: number | null;
  fcp: number | null;
  lcp: number | null;
  cls: number | null;
}

export interface Measurement {
  name: string;
  url: string;
  /** Navigation timing (ms since the navigation started): responseStart, domContentLoaded, load... */
  navigation: Record<string, number>;
  vitals: Vitals;
}

export interface JourneyResult {
  ok: boolean;
  durationMs: number;
  steps: StepResult[];
  /** The step that failed (null when the journey passed, or failed outside any step: "browser"). */
  failedStep: string | null;
  error: string | null;
  consoleErrors: string[];
  /** Every `measure` step's, then the final page's. */
  measurements: Measurement[];
  /** Base64 PNG of the page when the journey failed. */
  screenshot: string | null;
  /** The failed runs before this one (the stage's retries), oldest first. */
  earlier: EarlierRun[];
}

/** The request's size bound (steps are bounded by the pipeline; a script travels as a path). */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** The result's size bound: a screenshot and bounded lists. */
export const MAX_RESULT_BYTES = 12 * 1024 * 1024;
export const MAX_CONSOLE_ERRORS = 20;
/** 1 + the most retries a stage may have (MAX_JOURNEY_RETRIES in @dockyard/pipeline; not imported, to keep
 * the child's bundle small). */
export const MAX_RUNS = 6;
export const MAX_TEXT = 500;

export const clip = (text: string, max = MAX_TEXT): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Checks the child's answer is a result of the right shape (it ran user code: never trust its types). */
export function parseResult(text: string): JourneyResult {
  const v = JSON.parse(text) as Partial<JourneyResult>;
  if (
    typeof v !== "object" ||
    v === null ||
    typeof v.ok !== "boolean" ||
    typeof v.durationMs !== "number" ||
    !Array.isArray(v.steps) ||
    !Array.isArray(v.consoleErrors) ||
    !Array.isArray(v.measurements)
  )
    throw new Error("the journey runner answered something that is not a result");
  return {
    ok: v.ok,
    durationMs: v.durationMs,
    steps: v.steps.slice(0, 200).map((s) => ({
      name: clip(String(s.name), 80),
      action: clip(String(s.action), 20),
      durationMs: Number(s.durationMs) || 0,
      ok: s.ok === true,
      ...(s.error !== undefined && { error: clip(String(s.error)) }),
    })),
    failedStep: v.failedStep == null ? null : clip(String(v.failedStep), 80),
    error: v.error == null ? null : clip(String(v.error)),
    earlier: (Array.isArray(v.earlier) ? v.earlier : []).slice(0, MAX_RUNS - 1).map((r) => ({
      durationMs: Number(r.durationMs) || 0,
      failedStep: r.failedStep == null ? null : clip(String(r.failedStep), 80),
      error: r.error == null ? null : clip(String(r.error)),
    })),
    consoleErrors: v.consoleErrors.slice(0, MAX_CONSOLE_ERRORS).map((e) => clip(String(e))),
    measurements: v.measurements.slice(0, 110).map((m) => ({
      name: clip(String(m.name), 80),
      url: clip(String(m.url)),
      navigation: Object.fromEntries(
        Object.entries(m.navigation ?? {})
          .slice(0, 30)
          .filter(([, n]) => typeof n === "number" && Number.isFinite(n)),
      ),
      vitals: {
        ttfb: num(m.vitals?.ttfb),
        fcp: num(m.vitals?.fcp),
        lcp: num(m.vitals?.lcp),
        cls: num(m.vitals?.cls),
      },
    })),
    screenshot: typeof v.screenshot === "string" && /^[A-Za-z0-9+/=]*$/.test(v.screenshot) ? v.screenshot : null,
  };
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : null);
