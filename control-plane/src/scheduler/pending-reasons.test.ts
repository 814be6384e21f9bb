import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { explainPending, type AgentSnapshot, type StageRequirements } from "./pending-reasons";

const agent = (name: string, o: Partial<AgentSnapshot> = {}): AgentSnapshot => ({
  id: `id-${name}`,
  name,
  state: "online",
  labels: {},
  capabilities: ["docker"],
  capacity: 2,
  used: 0,
  ...o,
});
const req = (o: Partial<StageRequirements> = {}): StageRequirements => ({
  selector: {},
  requires: ["docker"],
  avoid: [],
  ...o,
});

describe("explainPending", () => {
  it("names a label no agent carries and lists the agents (unschedulable)", () => {
    const why = explainPending(req({ selector: { zone: "b" } }), [agent("b", { labels: { zone: "a" } }), agent("a")]);
    assert.deepEqual(why, {
      reason: "no agent has label zone=b (agents: a, b)",
      unschedulable: true,
      transient: false,
      forSlot: false,
    });
  });

  it("names only the missing pairs, or all of them when no agent has every pair", () => {
    const agents = [agent("a", { labels: { zone: "a" } }), agent("b", { labels: { disk: "ssd" } })];
    assert.equal(
      explainPending(req({ selector: { zone: "a", gpu: "yes", arch: "arm" } }), agents).reason,
      "no agent has labels gpu=yes, arch=arm (agents: a, b)",
    );
    const both = explainPending(req({ selector: { zone: "a", disk: "ssd" } }), agents);
    assert.equal(both.reason, "no agent has all of labels zone=a, disk=ssd (agents: a, b)");
    assert.equal(both.unschedulable, true);
  });

  it("caps the list of agents", () => {
    const agents = Array.from({ length: 8 }, (_, i) => agent(`n${i}`));
    assert.equal(
      explainPending(req({ selector: { zone: "x" } }), agents).reason,
      "no agent has label zone=x (agents: n0, n1, n2, n3, n4 and 3 more)",
    );
  });

  it("says when no agent offers the capabilities, with or without a selector", () => {
    const agents = [agent("a"), agent("b", { labels: { zone: "b" }, state: "offline" })];
    assert.deepEqual(explainPending(req({ requires: ["shell"] }), agents), {
      reason: "no online agent offers capability shell",
      unschedulable: true,
      transient: false,
      forSlot: false,
    });
    assert.equal(
      explainPending(req({ requires: ["shell"], selector: { zone: "b" } }), agents).reason,
      "no online agent with label zone=b offers capability shell",
    );
    assert.equal(
      explainPending(req({ requires: ["docker", "build"] }), agents).reason,
      "no online agent offers capabilities docker, build",
    );
  });

  it("says so when no agent is registered, and ignores revoked agents", () => {
    assert.deepEqual(explainPending(req(), []), {
      reason: "no agent is registered",
      unschedulable: true,
      transient: false,
      forSlot: false,
    });
    assert.equal(explainPending(req(), [agent("r", { state: "revoked" })]).reason, "no agent is registered");
  });

  it("gives used/capacity of full matching agents", () => {
    const agents = [
      agent("a", { capacity: 16, used: 16 }),
      agent("b", { capacity: 16, used: 16 }),
      agent("c", { labels: { zone: "c" } }),
    ];
    assert.deepEqual(explainPending(req({ selector: {} }), agents.slice(0, 2)), {
      reason: "2 matching agents are full (16/16, 16/16)",
      unschedulable: false,
      transient: false,
      forSlot: true,
    });
    assert.equal(
      explainPending(req(), [agent("a", { capacity: 1, used: 1 })]).reason,
      "1 matching agent is full (1/1)",
    );
  });

  it("says which matching agents drain, are lost, offline or silent", () => {
    assert.deepEqual(explainPending(req(), [agent("a", { state: "draining" })]), {
      reason: "agent a is draining",
      unschedulable: false,
      transient: false,
      forSlot: false,
    });
    assert.equal(explainPending(req(), [agent("b", { state: "lost" })]).reason, "the only matching agent b is lost");
    assert.equal(
      explainPending(req(), [agent("b", { state: "offline" })]).reason,
      "the only matching agent b is offline",
    );
    assert.equal(
      explainPending(req(), [agent("b", { state: "silent" })]).reason,
      "the only matching agent b is not responding",
    );
    const mixed = [
      agent("a", { used: 2 }),
      agent("b", { state: "draining" }),
      agent("c", { state: "lost" }),
      agent("d", { state: "lost" }),
      agent("e", { state: "offline" }),
      agent("f", { capabilities: ["shell"], state: "lost" }),
    ];
    assert.equal(
      explainPending(req(), mixed).reason,
      "1 matching agent is full (2/2); agent b is draining; agents c, d are lost; agent e is offline",
    );
  });

  it("a lost or offline matching agent keeps the stage schedulable", () => {
    assert.equal(explainPending(req(), [agent("b", { state: "lost" })]).unschedulable, false);
    assert.equal(explainPending(req(), [agent("b", { state: "offline" })]).unschedulable, false);
  });

  it("mentions agents that lost the stage before", () => {
    const why = explainPending(req({ avoid: ["id-b"] }), [agent("b", { state: "lost" })]);
    assert.equal(why.reason, "the only matching agent b is lost; agent b lost it before");
    assert.equal(
      explainPending(req({ avoid: ["id-a", "id-x"] }), [agent("a", { capacity: 1, used: 1 })]).reason,
      "1 matching agent is full (1/1); agent a lost it before",
    );
  });

  it("a free slot on a matching agent is a transient backlog", () => {
    const why = explainPending(req({ selector: { zone: "a" } }), [
      agent("a", { labels: { zone: "a" }, used: 1 }),
      agent("b"),
    ]);
    assert.deepEqual(why, {
      reason: "waiting to be placed (agent a has 1 free slot)",
      unschedulable: false,
      transient: true,
      forSlot: true,
    });
    assert.equal(
      explainPending(req(), [agent("a"), agent("b", { used: 1 })]).reason,
      "waiting to be placed (2 matching agents have 3 free slots)",
    );
  });

  it("a test pinned to its environment's agent speaks of that agent only", () => {
    const pinned = { agentId: "id-a", why: "waits for the agent of environment 'env'" };
    const others = [agent("b"), agent("c")];
    assert.deepEqual(explainPending(req({ pinned }), [agent("a", { state: "lost" }), ...others]), {
      reason: "waits for the agent of environment 'env': agent a is lost",
      unschedulable: false,
      transient: false,
      forSlot: false,
    });
    assert.equal(
      explainPending(req({ pinned }), [agent("a", { capacity: 1, used: 1 }), ...others]).reason,
      "waits for the agent of environment 'env': agent a is full (1/1)",
    );
    assert.equal(
      explainPending(req({ pinned }), [agent("a"), ...others]).reason,
      "waiting to be placed (agent a has 2 free slots)",
    );
    const gone = explainPending(req({ pinned }), others);
    assert.deepEqual(
      [gone.reason, gone.unschedulable],
      ["waits for the agent of environment 'env', and that agent is gone", true],
    );
  });
});
