// Hostile pipeline files are refused with a message naming the problem, in
// bounded time, over gRPC and HTTP, and nothing is written.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { status, type ServiceError } from "@grpc/grpc-js";
import { startFarm, type Farm } from "../index";

const HOSTILE: [string, Uint8Array, RegExp][] = [
  ["a 10 MB file", Buffer.alloc(10 * 1024 * 1024, "a"), /limit|larger than max/i],
  ["10,000-deep flow nesting", Buffer.from(`name: x\nstages: ${"[".repeat(10_000)}`), /deep|depth|nest/i],
  ["10,000-deep block nesting", Buffer.from(`name: x\nstages:\n  s: ${"- ".repeat(10_000)}x\n`), /deep|depth|nest/i],
  [
    "an alias bomb",
    Buffer.from(
      [
        "a: &a [x, x, x, x, x, x, x, x, x, x]",
        ...Array.from(
          { length: 9 },
          (_, i) =>
            `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
              .fill(`*${String.fromCharCode(97 + i)}`)
              .join(", ")}]`,
        ),
        "name: bomb",
        "stages: { s: { image: i, command: x } }",
      ].join("\n"),
    ),
    /alias/i,
  ],
  ["duplicate keys", Buffer.from("name: dup\nname: dup2\nstages:\n  s: { image: i, command: x }\n"), /duplicate/i],
  [
    "invalid UTF-8",
    Buffer.concat([
      Buffer.from('name: bad\nstages:\n  s: { image: i, command: "'),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from('" }\n'),
    ]),
    /UTF-8/i,
  ],
  [
    "a cycle and an unknown key at once",
    Buffer.from(
      "name: cyc\nstages:\n  a: { image: i, command: x, needs: [b] }\n  b: { image: i, command: x, needs: [a], imag: y }\n",
    ),
    /cycle[\s\S]*imag|imag[\s\S]*cycle/i,
  ],
];

describe("hostile pipeline input", () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm();
  });
  after(async () => farm?.stop());

  const counts = async () =>
    (
      await farm.pg.query(
        "SELECT (SELECT count(*) FROM runs)::int AS runs, (SELECT count(*) FROM stages)::int AS stages, (SELECT count(*) FROM run_events)::int AS events",
      )
    ).rows[0];

  for (const [what, body, message] of HOSTILE) {
    it(`refuses ${what} over gRPC without writing anything`, async () => {
      const started = Date.now();
      const err = await farm.client
        .submitRun({ pipelineYaml: body, source: "test:dockyard.yml" }, { timeoutMs: 10_000 })
        .then(
          () => null,
          (e: ServiceError) => e,
        );
      assert.ok(err, "submit should fail");
      assert.ok(
        [status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED].includes(err.code),
        `code ${err.code}: ${err.details}`,
      );
      assert.match(err.details, message);
      assert.ok(Date.now() - started < 5_000, "refused in bounded time");
      assert.deepEqual(await counts(), { runs: 0, stages: 0, events: 0 });
    });

    it(`refuses ${what} over HTTP with a 4xx naming the problem`, async () => {
      const res = await fetch(`${farm.server.httpUrl}/api/v1/runs`, {
        method: "POST",
        body,
        headers: { authorization: `Bearer ${farm.apiToken}`, "content-type": "application/yaml" },
      });
      assert.ok(res.status === 400 || res.status === 413, `status ${res.status}`);
      const json = (await res.json()) as { error: { message: string; problems?: string[] } };
      assert.match(`${json.error.message}\n${(json.error.problems ?? []).join("\n")}`, message);
      assert.deepEqual(await counts(), { runs: 0, stages: 0, events: 0 });
    });
  }

  it("reports problems with line and column, file-name prefixed", async () => {
    const err = await farm.client
      .submitRun({
        pipelineYaml: Buffer.from("name: p\nstages:\n  s:\n    imag: x\n    command: y\n"),
        source: "cli:ci.yml",
      })
      .then(
        () => null,
        (e: ServiceError) => e,
      );
    assert.equal(err?.code, status.INVALID_ARGUMENT);
    assert.match(err!.details, /ci\.yml:4:5: stages\.s: unknown key 'imag'/);
  });

  it("refuses API calls without a valid token", async () => {
    const res = await fetch(`${farm.server.httpUrl}/api/v1/runs`, { headers: { authorization: "Bearer nope" } });
    assert.equal(res.status, 401);
    const anon = await fetch(`${farm.server.httpUrl}/api/v1/runs`);
    assert.equal(anon.status, 401);
  });
});
