// Reading a server's `/metrics` as Prometheus would: each sample by name and exact label set.
import { waitFor } from "./wait";

export type Labels = Record<string, string>;

export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** Every sample of a text exposition (comments skipped; label values unescaped). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Labels = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export async function scrape(httpUrl: string): Promise<Sample[]> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${httpUrl}/metrics answered ${res.status}`);
  return parseSamples(await res.text());
}

/** The value of `name` whose labels are exactly `labels`; undefined when there is no such series. */
export function valueOf(samples: Sample[], name: string, labels: Labels = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

/** Every series of `name` whose labels include `match`: `labelValue -> value` keyed by label `by`. */
export function seriesBy(samples: Sample[], name: string, by: string, match: Labels = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name || !Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    out[s.labels[by] ?? ""] = s.value;
  }
  return out;
}

/**
 * Scrape until `check` holds for a scrape (the farm series are cached for a second, and the
 * change may take a moment to land); answers that scrape. The error quotes the last value seen.
 */
export async function waitForScrape(
  httpUrl: string,
  check: (samples: Sample[]) => boolean,
  opts: { message: string; timeoutMs?: number; show?: (samples: Sample[]) => unknown },
): Promise<Sample[]> {
  let last: Sample[] = [];
  try {
    return await waitFor(
      async () => {
        last = await scrape(httpUrl);
        return check(last) ? last : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 20_000, intervalMs: 200, message: opts.message },
    );
  } catch (err) {
    const seen = opts.show ? JSON.stringify(opts.show(last)) : "";
    throw new Error(`${(err as Error).message}${seen ? `; last scrape: ${seen}` : ""}`);
  }
}
