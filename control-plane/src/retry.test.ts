import { test } from "node:test";
import assert from "node:assert/strict";
import { isRetryable, isUnreachable, TX_MAX_TRIES, txRetry } from "./retry";

const pgError = (code: string) => Object.assign(new Error(`pg error ${code}`), { code });

test("a deadlock or serialization failure is retried, also wrapped in a cause; other errors are not", () => {
  assert.equal(isRetryable(pgError("40P01")), true);
  assert.equal(isRetryable(pgError("40001")), true);
  assert.equal(isRetryable(new Error("Failed query: update ...", { cause: pgError("40001") })), true);
  assert.equal(isRetryable(pgError("23505")), false);
  assert.equal(isRetryable(new Error("connection terminated")), false);
});

test("a transaction that lost a race runs again until it succeeds", async () => {
  let tries = 0;
  const result = await txRetry.execute(async () => {
    tries++;
    if (tries < 3) throw pgError("40P01");
    return "done";
  });
  assert.equal(result, "done");
  assert.equal(tries, 3);
});

test("it gives up after TX_MAX_TRIES with the last error, and a real error is thrown at once", async () => {
  let tries = 0;
  await assert.rejects(
    txRetry.execute(async () => {
      tries++;
      throw pgError("40001");
    }),
    /pg error 40001/,
  );
  assert.equal(tries, TX_MAX_TRIES);
  tries = 0;
  await assert.rejects(
    txRetry.execute(async () => {
      tries++;
      throw pgError("23505");
    }),
    /pg error 23505/,
  );
  assert.equal(tries, 1);
});

test("a starting server waits on a refused, cut or timed-out connection and a starting or full Postgres; not on a wrong name", () => {
  const wrapped = (e: Error) => new Error('Failed query: CREATE SCHEMA IF NOT EXISTS "drizzle"', { cause: e });
  assert.equal(
    isUnreachable(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })),
    true,
  );
  assert.equal(isUnreachable(wrapped(new Error("timeout exceeded when trying to connect"))), true);
  assert.equal(isUnreachable(wrapped(new Error("Connection terminated due to connection timeout"))), true);
  assert.equal(isUnreachable(pgError("57P03")), true);
  assert.equal(isUnreachable(wrapped(pgError("53300"))), true);
  assert.equal(isUnreachable(wrapped(pgError("3D000"))), false, "the database does not exist");
  assert.equal(isUnreachable(pgError("28P01")), false, "a wrong password");
  assert.equal(isUnreachable(new Error("syntax error")), false);
});
