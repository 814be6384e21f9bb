import { test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { distroOf, hostFacts, memoryGiB, withHostFacts } from "./host-facts";
import { dockerFromEnv } from "./executor/docker-client";

test("distroOf reads ID and VERSION_ID, quoted or not, and refuses odd values", () => {
  assert.equal(distroOf('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'), "debian-12");
  assert.equal(distroOf("ID=arch\n"), "arch");
  assert.equal(distroOf('ID="a b"\n'), null);
  assert.equal(distroOf("NAME=x\n"), null);
});

test("memoryGiB: one decimal below 10 GiB, whole GiB from there", () => {
  assert.equal(memoryGiB(8 * 1024 ** 3 * 0.975), "7.8");
  assert.equal(memoryGiB(24 * 1024 ** 3 - 1), "24");
  assert.equal(memoryGiB(512 * 1024 ** 2), "0.5");
});

test("hostFacts: the host's values, the engine's version when one answers, none when it does not", async () => {
  const facts = await hostFacts(dockerFromEnv({ DOCKER_HOST: process.env.DOCKER_HOST }));
  assert.equal(facts.os, "linux");
  assert.equal(facts.arch, process.arch);
  assert.equal(facts.cpus, String(os.availableParallelism()));
  assert.match(facts.docker ?? "", /^\d+\.\d+/, "the test engine answers");
  const without = await hostFacts(dockerFromEnv({ DOCKER_HOST: "unix:///nonexistent/docker.sock" }));
  assert.equal(without.docker, undefined);
  assert.equal(without.os, "linux");
  assert.deepEqual(withHostFacts(facts, { os: "mine", disk: "ssd" }), { ...facts, os: "mine", disk: "ssd" });
});
