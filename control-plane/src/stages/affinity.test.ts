import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePipeline } from "@dockyard/pipeline";
import { stageSpecRow } from "./stage-row";
import { AGENT_KINDS } from "./index";

const yaml = [
  "name: aff",
  "stages:",
  '  img: { type: build, tags: ["team/webapp:${{ DOCKYARD_RUN_NUMBER }}", "webapp:latest"] }',
  "  plain: { image: dockyard/busybox:1, command: 'true' }",
].join("\n");

test("a stage's affinity key comes from its kind's hook, named by type; kinds without one have none", () => {
  const parsed = parsePipeline(yaml);
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  const run = { id: "r1", name: "aff", number: 7, commit: "" };
  const rows = Object.fromEntries(
    parsed.pipeline.stages.map((s) => [s.name, stageSpecRow(s, parsed.pipeline, run, null)]),
  );
  // The first tag's image name, without the tag (which changes every run).
  assert.equal(rows.img!.affinity, "build:team/webapp");
  assert.equal(rows.plain!.affinity, null);
  const away = AGENT_KINDS.build!.affinity!.away("engine-a", "has no free slot");
  assert.equal(away, "built without its layer cache: agent engine-a, which built this image last, has no free slot");
});
