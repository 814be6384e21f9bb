import { test } from "node:test";
import assert from "node:assert/strict";
import { create, PROTOCOL_VERSION, RegisterRequestSchema, type RegisterRequest } from "@dockyard/proto";
import { registrationProblems } from "./registration";
import { AGENT_KINDS, capabilityVocabulary } from "../../stages";

function request(labels: Record<string, string>, capabilities = ["shell"]): RegisterRequest {
  const req = create(RegisterRequestSchema, {
    name: "agent-a",
    hostname: "host",
    capacity: 2,
    protocolVersion: PROTOCOL_VERSION,
    capabilities,
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

test("the accepted capabilities are what the stage kinds may require: each kind's are accepted, an unknown one refused by name", () => {
  for (const kind of Object.values(AGENT_KINDS))
    assert.deepEqual(registrationProblems(request({}, [...kind.capabilities])), [], kind.type);
  const problems = registrationProblems(request({}, ["docker", "gpu"]));
  assert.equal(problems.length, 1, problems.join("; "));
  assert.match(problems[0]!, /^unknown capabilities \[gpu\]: this server's stage kinds know .*docker/);
  // A kind that brings a capability brings it to the vocabulary: nothing else to edit.
  const withGpu = capabilityVocabulary([...Object.values(AGENT_KINDS), { capabilities: ["gpu"] }]);
  assert.deepEqual(registrationProblems(request({}, ["docker", "gpu"]), withGpu), []);
  assert.match(registrationProblems(request({}, []))[0]!, /^capabilities must be 1 to 8 of /);
});
