// Per-token rate limit of the API: a token bucket per bearer token (refilled at `perSecond`, holding at
// most `burst`), so one client's loop cannot starve the others. A request finding its bucket empty is
// answered 429 with Retry-After (whole seconds until a token is back) before it reaches the access check,
// so a flood of bad tokens never reaches the database either. Buckets live in this process: with several
// replicas behind a balancer, a client gets up to `perSecond` on each one it reaches.
import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { ErrorBody } from "../types";

export interface RateLimitOptions {
  /** Tokens added per second (sustained requests per second). */
  perSecond: number;
  /** Bucket size: requests a client may send at once after a quiet spell. */
  burst: number;
  /** Milliseconds; tests pass their own clock. */
  now?: () => number;
  /** Buckets kept before idle (full) ones are dropped; past it with none idle, all are dropped (fail open). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** The bucket table on its own, so the arithmetic is testable without HTTP. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly opts: RateLimitOptions) {
    if (!(opts.perSecond > 0) || !(opts.burst >= 1)) throw new Error("rate limit: perSecond > 0 and burst >= 1");
    this.now = opts.now ?? Date.now;
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  /** Takes one token for `key`: 0 when granted, else the seconds until one is back (at least 1). */
  take(key: string): number {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.opts.burst, at: now };
    b.tokens = Math.min(this.opts.burst, b.tokens + ((now - b.at) / 1000) * this.opts.perSecond);
    b.at = now;
    if (!this.buckets.has(key)) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      this.buckets.set(key, b);
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.opts.perSecond));
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Drops buckets that have refilled (they behave as new ones); if none had, drops them all. */
  private prune(now: number): void {
    const fullAfterMs = (this.opts.burst / this.opts.perSecond) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at >= fullAfterMs) this.buckets.delete(k);
    if (this.buckets.size >= this.maxKeys) this.buckets.clear();
  }
}

/** The middleware: requests with a bearer token take from that token's bucket; others pass (the access check answers them). */
export function rateLimit(opts: RateLimitOptions): MiddlewareHandler {
  const buckets = new TokenBuckets(opts);
  return async (c, next) => {
    const auth = c.req.header("authorization") ?? "";
    if (!auth.startsWith("Bearer ")) return next();
    // Keyed by a digest: the bucket table never holds a token.
    const key = createHash("sha256").update(auth.slice(7).trim()).digest("base64url");
    const wait = buckets.take(key);
    if (wait === 0) return next();
    return c.json(
      {
        error: {
          code: "rate_limited",
          message: `too many requests for this token: at most ${opts.perSecond}/s (bursts of ${opts.burst}); retry in ${wait} s`,
        },
      } satisfies ErrorBody,
      429,
      { "retry-after": String(wait) },
    );
  };
}
