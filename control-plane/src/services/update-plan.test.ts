// The pure parts of planning an update: how replicas spread over hosts, which hosts an update
// touches (those leaving go to zero), and that a revision's digest ignores key order.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ServiceRevisionSpec } from "@dockyard/pipeline";
import { hostsOf, spread } from "./update-plan";
import { revisionDigest } from "../store/services";
import { checkRollback } from "./rollback";

const agents = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `id-${i}`, name: `host-${i}` }));

test("replicas spread over the chosen agents, the first ones taking one more", () => {
  assert.deepEqual(
    spread(3, agents(2)).map((p) => p.replicas),
    [2, 1],
  );
  assert.deepEqual(
    spread(7, agents(3)).map((p) => p.replicas),
    [3, 2, 2],
  );
  assert.deepEqual(
    spread(1, agents(3)).map((p) => p.replicas),
    [1, 0, 0],
  );
});

test("an update's hosts: the new placement's, then those only the previous one had, going to zero", () => {
  const next = spread(3, agents(2));
  const previous = [
    { agentId: "id-1", agentName: "host-1", replicas: 2 },
    { agentId: "id-9", agentName: "host-9", replicas: 1 },
  ];
  assert.deepEqual(
    hostsOf(next, previous).map((h) => [h.agentName, h.replicas, h.previousReplicas]),
    [
      ["host-0", 2, 0],
      ["host-1", 1, 2],
      ["host-9", 0, 1],
    ],
  );
});

test("a revision's digest is the same whatever order its keys were written in, and differs with its content", () => {
  const spec: ServiceRevisionSpec = {
    image: "web:1",
    env: { A: "1", B: "2" },
    secrets: [],
    command: null,
    port: 8080,
    health: {
      http: { path: "/health", status: 200 },
      command: null,
      intervalMs: 1000,
      timeoutMs: 2000,
      minHealthyMs: 3000,
    },
    stopGraceMs: 10_000,
    replicas: 3,
  };
  const placement = spread(3, agents(2));
  const reordered = { ...spec, env: { B: "2", A: "1" } };
  assert.equal(revisionDigest(spec, placement), revisionDigest(reordered, placement));
  assert.notEqual(revisionDigest(spec, placement), revisionDigest({ ...spec, env: { A: "1", B: "3" } }, placement));
  assert.notEqual(revisionDigest(spec, placement), revisionDigest(spec, spread(3, agents(3))));
});

test("a rollback request names what is wrong with it", () => {
  const ok = { service: "web", reason: "", via: "http" as const };
  assert.doesNotThrow(() => checkRollback(ok));
  assert.throws(() => checkRollback({ ...ok, service: "Web!" }), /invalid service 'Web!'/);
  assert.throws(() => checkRollback({ ...ok, revision: 0 }), /revision must be a whole number from 1, got 0/);
  assert.throws(() => checkRollback({ ...ok, reason: "x".repeat(501) }), /reason is 501 characters; the limit is 500/);
});
