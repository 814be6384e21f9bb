import { test } from "node:test";
import assert from "node:assert/strict";
import { parseEnvFile } from "./env-file";
import { CliError } from "./errors";

test("parseEnvFile reads KEY=VALUE lines as systemd's EnvironmentFile= does, and names a bad line", () => {
  assert.deepEqual(parseEnvFile("# c\n; c\n\nA=1\nB = 'two words'\nexport C=\"x=y,z\"\nD=\n"), {
    A: "1",
    B: "two words",
    C: "x=y,z",
    D: "",
  });
  assert.throws(
    () => parseEnvFile("A=1\nnot a line\n", "agent.env"),
    (err: unknown) => {
      assert.ok(err instanceof CliError);
      assert.match(err.message, /agent\.env:2: expected KEY=VALUE/);
      return true;
    },
  );
});
