// Transactions retried on deadlock / serialization failure: concurrent
// replicas and agents touch the same rows in different orders at times.
import type { Db, Tx } from "./db";

const RETRYABLE = new Set(["40P01", "40001"]);
const MAX_TRIES = 5;

function pgCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export async function withTx<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(fn);
    } catch (err) {
      const code = pgCode(err);
      if (attempt >= MAX_TRIES || !code || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }
}
