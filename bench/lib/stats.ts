// Timing and percentile helpers for the benchmarks (bench/container.ts and its phases).
// bench/dispatch.ts and bench/build.ts still have their own copies (2-decimal rounding there).

/** The q-quantile of xs (nearest rank, 0 < q <= 1); NaN for no samples. */
export const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]! : NaN;
};

/** x rounded to one decimal (one argument only: it is passed to Array#map as is). */
export const round = (x: number) => Math.round(x * 10) / 10;

/** Milliseconds since the epoch, sub-millisecond (the engine's and Postgres' stamps are on the same clock). */
export const now = () => performance.timeOrigin + performance.now();
