import { test } from "node:test";
import assert from "node:assert/strict";
import {
  create,
  PROTOCOL_VERSION,
  RegisterRequestSchema,
  releaseVersionText,
  type RegisterRequest,
} from "@dockyard/proto";
import { acceptsProtocol, registrationProblems } from "./registration";
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

test("agents of the server's protocol or one behind are accepted; older or newer are refused naming both versions", () => {
  const at = (protocolVersion: number) => {
    const req = request({});
    req.protocolVersion = protocolVersion;
    req.version = "0.0.9 (1234567)";
    return registrationProblems(req);
  };
  assert.deepEqual(at(PROTOCOL_VERSION), []);
  assert.deepEqual(at(PROTOCOL_VERSION - 1), []);
  assert.equal(acceptsProtocol(PROTOCOL_VERSION - 2), false);
  const server = `server ${releaseVersionText()} speaks protocol ${PROTOCOL_VERSION} and accepts ${PROTOCOL_VERSION - 1} to ${PROTOCOL_VERSION}`;
  assert.deepEqual(at(PROTOCOL_VERSION - 2), [
    `agent 0.0.9 (1234567) speaks protocol ${PROTOCOL_VERSION - 2}; ${server}: upgrade the agent`,
  ]);
  assert.deepEqual(at(PROTOCOL_VERSION + 1), [
    `agent 0.0.9 (1234567) speaks protocol ${PROTOCOL_VERSION + 1}; ${server}: upgrade the server first`,
  ]);
});
