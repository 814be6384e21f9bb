// Runs in the journey child: the current page's navigation timing and web vitals. Buffered
// PerformanceObservers (buffered: true) hand over the entries the page already recorded, so a
// measurement taken after the fact still sees the page's paints and layout shifts.
import type { Page } from "playwright-core";
import type { Measurement } from "./protocol";

const NAVIGATION_KEYS = [
  "redirectEnd",
  "domainLookupEnd",
  "connectEnd",
  "requestStart",
  "responseStart",
  "responseEnd",
  "domInteractive",
  "domContentLoadedEventEnd",
  "loadEventEnd",
  "transferSize",
];

/**
 * Evaluated in the page, as text (the agent compiles without the DOM's types). Each vital is
 * null until its entry is seen; CLS is 0 when the browser supports it and nothing shifted.
 */
const COLLECT = `new Promise((resolve) => {
  const vitals = { ttfb: null, fcp: null, lcp: null, cls: null };
  const observers = [];
  const watch = (type, take) => {
    try {
      const o = new PerformanceObserver((list) => take(list.getEntries()));
      o.observe({ type, buffered: true });
      observers.push(o);
      take(o.takeRecords());
    } catch (e) { /* an entry type this browser lacks: that vital stays null */ }
  };
  watch("paint", (es) => { for (const e of es) if (e.name === "first-contentful-paint") vitals.fcp = e.startTime; });
  watch("largest-contentful-paint", (es) => { for (const e of es) vitals.lcp = e.startTime; });
  watch("layout-shift", (es) => {
    if (vitals.cls === null) vitals.cls = 0;
    for (const e of es) if (!e.hadRecentInput) vitals.cls += e.value;
  });
  const nav = performance.getEntriesByType("navigation")[0];
  const navigation = {};
  if (nav) {
    vitals.ttfb = nav.responseStart;
    for (const k of ${JSON.stringify(NAVIGATION_KEYS)}) navigation[k] = nav[k];
  }
  // Buffered callbacks run as a task of their own: one task later they have run.
  setTimeout(() => {
    for (const o of observers) o.disconnect();
    if (vitals.cls === null && PerformanceObserver.supportedEntryTypes.includes("layout-shift")) vitals.cls = 0;
    resolve({ navigation, vitals });
  }, 0);
})`;

interface Collected {
  navigation: Record<string, number>;
  vitals: { ttfb: number | null; fcp: number | null; lcp: number | null; cls: number | null };
}

export async function measurePage(page: Page, name: string): Promise<Measurement> {
  const m = (await page.evaluate(COLLECT)) as Collected;
  return { name, url: page.url(), navigation: m.navigation, vitals: m.vitals };
}
