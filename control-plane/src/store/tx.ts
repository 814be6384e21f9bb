// Transactions retried on deadlock / serialization failure (the policy: ../retry.ts).
import { txRetry } from "../retry";
import type { Db, Tx } from "./db";

export async function withTx<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return txRetry.execute(() => db.transaction(fn));
}
