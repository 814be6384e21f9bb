// Agents over HTTP against a real farm of two shell agents: an admin drain holds through the agent's
// heartbeats (its work goes to the other agent; undrained, it takes work again: the positive control),
// revoke ends an agent's session, each change is audited, and bad ids are named.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { AgentView, AuditEntryView, ErrorBody, RunView } from "@dockyard/web";
import { startFarm, waitFor, type Farm } from "../index";

describe("agents over HTTP: drain, undrain, revoke", { timeout: 180_000 }, () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({
      agents: [
        { name: "dr-a", executor: "shell", capacity: 4 },
        { name: "dr-b", executor: "shell", capacity: 4 },
      ],
    });
  });
  after(async () => farm?.stop());

  async function call(method: string, p: string, body?: string) {
    const res = await fetch(`${farm.server.httpUrl}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${farm.apiToken}` },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const agents = async () => (await call("GET", "/agents")).body.agents as AgentView[];
  const idOf = async (name: string) => (await agents()).find((a) => a.name === name)!.id;
  const fanout = `name: drain-fanout
stages:
${[1, 2, 3, 4].map((i) => `  s${i}:\n    executor: shell\n    commands: ["true"]\n`).join("")}`;
  /** Agent names that ran a fresh run's stages. */
  async function ranOn(): Promise<string[]> {
    const submitted = await call("POST", "/runs", fanout);
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const id = (submitted.body.run as RunView).id;
    const run = await waitFor(
      async () => {
        const r = (await call("GET", `/runs/${id}`)).body.run as RunView;
        return r.state === "succeeded" ? r : undefined;
      },
      { timeoutMs: 60_000, message: `run ${id} to succeed` },
    );
    return [...new Set(run.stages.map((s) => s.attemptHistory.at(-1)!.agentName!))].sort();
  }

  it("a drained agent stays draining through its heartbeats and gets no new work until undrained", async () => {
    await waitFor(async () => (await agents()).filter((a) => a.state === "online").length === 2, {
      message: "both agents online",
    });
    const a = await idOf("dr-a");
    const b = await idOf("dr-b");
    const drained = await call("POST", `/agents/${a}/drain`);
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    const view = drained.body.agent as AgentView;
    assert.equal(view.state, "draining");
    assert.ok(view.drainRequestedAt);
    // Several runs while drained (the farm's heartbeats come every 300 ms): every stage on dr-b.
    for (let i = 0; i < 3; i++) assert.deepEqual(await ranOn(), ["dr-b"]);
    assert.equal((await agents()).find((x) => x.id === a)!.state, "draining", "still draining after heartbeats");

    // Positive control: with dr-b drained and dr-a undrained, the work goes to dr-a.
    assert.equal((await call("POST", `/agents/${b}/drain`)).status, 200);
    const undrained = await call("POST", `/agents/${a}/undrain`);
    assert.equal(undrained.status, 200);
    assert.equal((undrained.body.agent as AgentView).drainRequestedAt, null);
    await waitFor(async () => (await agents()).find((x) => x.id === a)!.state === "online", {
      message: "dr-a online again at its next heartbeat",
    });
    assert.deepEqual(await ranOn(), ["dr-a"]);
    assert.equal((await call("POST", `/agents/${b}/undrain`)).status, 200);
  });

  it("revokes an agent, then refuses to drain it; bad and unknown ids are named", async () => {
    const b = await idOf("dr-b");
    const revoked = await call("POST", `/agents/${b}/revoke`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal((revoked.body.agent as AgentView).state, "revoked");
    assert.ok((revoked.body.agent as AgentView).revokedAt);
    assert.equal(revoked.body.attemptsLost, 0);
    const refused = await call("POST", `/agents/${b}/drain`);
    assert.equal(refused.status, 409);
    assert.match((refused.body as unknown as ErrorBody).error.message, /is revoked/);

    const bad = await call("POST", "/agents/not-an-id/drain");
    assert.equal(bad.status, 400);
    assert.equal((bad.body as unknown as ErrorBody).error.field, "id");
    assert.equal((await call("POST", "/agents/00000000-0000-0000-0000-000000000000/revoke")).status, 404);
    assert.equal((await call("POST", "/agents/00000000-0000-0000-0000-000000000000/drain")).status, 404);
    assert.equal((await call("POST", `/agents/${b}/drain?now=1`)).status, 400);

    const entries = (await call("GET", "/audit?limit=1000")).body.entries as AuditEntryView[];
    const actions = entries.filter((e) => e.action.startsWith("agent.") && e.action !== "agent.registered");
    assert.deepEqual(
      actions.map((e) => e.action),
      ["agent.drained", "agent.drained", "agent.undrained", "agent.undrained", "agent.revoked"],
    );
  });
});
