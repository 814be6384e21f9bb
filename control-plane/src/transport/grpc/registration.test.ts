import { test } from "node:test";
import assert from "node:assert/strict";
import { create, PROTOCOL_VERSION, RegisterRequestSchema, type RegisterRequest } from "@dockyard/proto";
import { registrationProblems } from "./registration";

function request(labels: Record<string, string>): RegisterRequest {
  const req = create(RegisterRequestSchema, {
    name: "agent-a",
    hostname: "host",
    capacity: 2,
    protocolVersion: PROTOCOL_VERSION,
    capabilities: ["shell"],
    version: "0.2.0",
    publicKey: new Uint8Array(32),
    nonce: new Uint8Array(16),
    joinProof: new Uint8Array(32),
    keySignature: new Uint8Array(64),
  });
  // Own properties, `__proto__` included (an object literal would set the prototype instead).
  for (const [k, v] of Object.entries(labels)) Object.defineProperty(req.labels, k, { value: v, enumerable: true });
  return req;
}

test("registration checks label keys with the pipeline's pattern, __proto__ refused", () => {
  assert.deepEqual(registrationProblems(request({ "kubernetes.io/zone": "a", os: "linux" })), []);
  const own = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
  assert.deepEqual(Object.keys(own), ["__proto__"]);
  for (const key of ["__proto__", "-a", "k".repeat(64)]) {
    const problems = registrationProblems(request({ [key]: "x" }));
    assert.equal(problems.length, 1, `${key}: ${problems.join("; ")}`);
    assert.match(problems[0]!, /^label key '.*' must be a letter or digit, then letters, digits/);
  }
});
