import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "commander";
import { checkLabelKeys, labelsArg, parseCapacity, parseLabels, parseLimit, parseRunState } from "./args";
import { UsageError } from "./errors";

test("parseLabels accepts k=v lists and trims spaces", () => {
  assert.deepEqual(parseLabels("os=linux, arch=amd64,gpu="), { os: "linux", arch: "amd64", gpu: "" });
  assert.deepEqual(parseLabels("kubernetes.io/zone=eu-1:a"), { "kubernetes.io/zone": "eu-1:a" });
  assert.deepEqual(parseLabels(""), {});
  assert.equal(labelsArg(" os=linux ,arch=arm64"), "os=linux,arch=arm64");
});

test("parseLabels refuses malformed items with a message naming them", () => {
  const bad: Array<[string, RegExp]> = [
    ["os", /key=value/],
    ["a=b,,c=d", /got item ""/],
    ["a=b c", /label value "b c"/],
    ["a=1,a=2", /"a" is given twice/],
  ];
  for (const [input, message] of bad) {
    assert.throws(
      () => parseLabels(input),
      (err: unknown) => err instanceof InvalidArgumentError && message.test(err.message),
      input,
    );
  }
});

test("label keys are checked with the pipeline's pattern, __proto__ and toString included", async () => {
  const own = parseLabels("__proto__=x,toString=y");
  assert.deepEqual(Object.keys(own), ["__proto__", "toString"]);
  await checkLabelKeys(parseLabels("kubernetes.io/zone=a,toString=y"));
  for (const [input, key] of [
    ["=x", ""],
    ["-a=b", "-a"],
    [`${"k".repeat(64)}=v`, "k".repeat(64)],
    ["__proto__=x", "__proto__"],
  ]) {
    await assert.rejects(
      checkLabelKeys(parseLabels(input!)),
      (err: unknown) =>
        err instanceof UsageError && err.message.startsWith(`--labels: label key "${key}" must be a letter or digit`),
      input,
    );
  }
});

test("parseCapacity accepts 1..256 whole numbers only", () => {
  assert.equal(parseCapacity("1"), 1);
  assert.equal(parseCapacity("256"), 256);
  assert.equal(parseCapacity(" 8 "), 8);
  for (const bad of ["0", "257", "-1", "1.5", "1e2", "abc", "", "0x10"]) {
    assert.throws(() => parseCapacity(bad), /capacity must be a whole number from 1 to 256/, bad);
  }
});

test("parseLimit and parseRunState", () => {
  assert.equal(parseLimit("50"), 50);
  assert.throws(() => parseLimit("0"), /limit must be/);
  assert.equal(parseLimit("500"), 500);
  assert.throws(() => parseLimit("501"), /limit must be/);
  assert.equal(parseRunState("failed"), "failed");
  assert.throws(() => parseRunState("done"), /state must be one of queued, running/);
});
