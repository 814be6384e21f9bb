import { test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { CommanderError } from "commander";
import { CliError, UsageError, describeError, errorText, exitCodeForState, isRetryable } from "./errors";
import { exitCodeFor } from "./program";

const grpcError = (code: number, details = "") =>
  Object.assign(new Error(`${code}`), { code, details, metadata: undefined });
const ctx = { server: "build.example:7400", notFound: "run not found: r-9" };

test("run states map to exit codes", () => {
  assert.equal(exitCodeForState("succeeded"), 0);
  for (const s of ["failed", "errored", "canceled", "weird"]) assert.equal(exitCodeForState(s), 1, s);
});

test("grpc codes map to clear messages", () => {
  assert.equal(
    describeError(grpcError(status.UNAVAILABLE, "No connection established"), ctx).message,
    "cannot reach server at build.example:7400 (UNAVAILABLE)",
  );
  assert.equal(
    describeError(grpcError(status.UNAUTHENTICATED, "bad token"), ctx).message,
    "unauthenticated (bad token): check --token/DOCKYARD_TOKEN",
  );
  assert.equal(describeError(grpcError(status.NOT_FOUND, "run r-9"), ctx).message, "run not found: r-9");
  assert.equal(describeError(grpcError(status.NOT_FOUND, "x"), { server: "s" }).message, "not found: x");
  assert.equal(
    describeError(grpcError(status.FAILED_PRECONDITION, "run already finished"), ctx).message,
    "run already finished",
  );
  // A Dockyard server's NOT_FOUND (with its error-code trailer) says what is missing; kept when asked for.
  const fromServer = Object.assign(grpcError(status.NOT_FOUND, "run r-9 has no stage 'x' (stages: a, b)"), {
    metadata: { get: (k: string) => (k === "dockyard-error-code" ? ["not_found"] : []) },
  });
  assert.equal(
    describeError(fromServer, { ...ctx, preferServerNotFound: true }).message,
    "run r-9 has no stage 'x' (stages: a, b)",
  );
  assert.equal(describeError(fromServer, ctx).message, "run not found: r-9");
  assert.equal(
    describeError(grpcError(status.NOT_FOUND, "proxy says no"), { ...ctx, preferServerNotFound: true }).message,
    "run not found: r-9",
  );
  assert.equal(
    describeError(grpcError(status.RESOURCE_EXHAUSTED, "slow down"), ctx).message,
    "server error (RESOURCE_EXHAUSTED): slow down",
  );
  assert.equal(
    describeError(grpcError(status.DEADLINE_EXCEEDED), ctx).message,
    "server at build.example:7400 did not answer in time (DEADLINE_EXCEEDED)",
  );
  const e = describeError(grpcError(status.INTERNAL, "x"), ctx);
  assert.equal(e.exitCode, 1);
  assert.ok(e.cause);
});

test("retryable: connection trouble yes, refusals no", () => {
  assert.equal(isRetryable(grpcError(status.UNAVAILABLE)), true);
  assert.equal(isRetryable(grpcError(status.INTERNAL)), true);
  assert.equal(isRetryable(grpcError(status.UNKNOWN, "read ECONNRESET")), true);
  assert.equal(isRetryable(Object.assign(new Error("reset"), { code: "ECONNRESET" })), true);
  assert.equal(isRetryable(grpcError(status.CANCELLED, "server shutting down")), true);
  assert.equal(isRetryable(grpcError(status.NOT_FOUND)), false);
  assert.equal(isRetryable(grpcError(status.UNAUTHENTICATED)), false);
  assert.equal(isRetryable(new Error("plain")), false);
});

test("process exit codes: usage 2, failure 1, help 0", () => {
  assert.equal(exitCodeFor(new CommanderError(1, "commander.unknownOption", "x")), 2);
  assert.equal(exitCodeFor(new CommanderError(1, "commander.invalidArgument", "x")), 2);
  assert.equal(exitCodeFor(new CommanderError(1, "commander.missingArgument", "x")), 2);
  assert.equal(exitCodeFor(new CommanderError(0, "commander.helpDisplayed", "x")), 0);
  assert.equal(exitCodeFor(new CommanderError(1, "commander.help", "x")), 2);
  assert.equal(exitCodeFor(new UsageError("bad")), 2);
  assert.equal(exitCodeFor(new CliError("failed")), 1);
  assert.equal(exitCodeFor(new Error("bug")), 1);
});

test("error text: prefixed unless verbatim", () => {
  assert.equal(errorText(new CliError("nope")), "error: nope\n");
  assert.equal(errorText(new CliError("a.yml:1:1: x\n", 1, { verbatim: true })), "a.yml:1:1: x\n");
});
