// Logs over HTTP: `GET /api/v1/runs/:id/stages/:stage/logs` (and `/runs/:id/logs?stage=`)
// answers one attempt's output as plain text, in pages bounded by `limit` and continued
// with `from`; every bad query parameter is a 400 naming it. Over real HTTP against a farm.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startFarm, submit, waitForRun, type Farm } from "../index";

const PIPELINE = `
name: talk
stages:
  talk:
    executor: shell
    command: 'echo "line one"; echo "to stderr" >&2; echo "line three"'
  retried:
    executor: shell
    retry: { count: 1, on: [failed] }
    command: 'echo "attempt $DOCKYARD_ATTEMPT"; [ "$DOCKYARD_ATTEMPT" = 2 ]'
  big:
    executor: shell
    command: 'i=0; while [ $i -lt 4000 ]; do echo "line $i of the big stage, padded to be long enough"; i=$((i+1)); done'
`;
const BIG = Array.from({ length: 4000 }, (_, i) => `line ${i} of the big stage, padded to be long enough\n`).join("");

describe("logs over HTTP", { timeout: 120_000 }, () => {
  let farm: Farm;
  let runId: string;
  const get = (route: string, token: string | null = farm.apiToken) =>
    fetch(`${farm.server.httpUrl}/api/v1${route}`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });

  before(async () => {
    farm = await startFarm({ agents: [{ name: "hl-a", executor: "shell", capacity: 3 }] });
    runId = await submit(farm.client, PIPELINE);
    const run = await waitForRun(farm.client, runId);
    assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
  });
  after(async () => farm?.stop());

  it("answers a stage's output as plain text, stdout and stderr, with the attempt in its headers", async () => {
    const res = await get(`/runs/${runId}/stages/talk/logs`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
    // Their order across the two streams is the agent's business (see the ordering tests); all three are here.
    assert.deepEqual((await res.text()).split("\n").sort(), ["", "line one", "line three", "to stderr"]);
    assert.deepEqual(
      ["x-dockyard-attempt", "x-dockyard-attempts", "x-dockyard-complete", "x-dockyard-run-id"].map((h) =>
        res.headers.get(h),
      ),
      ["1", "1", "true", runId],
    );
    // The same by query, with the run named by prefix and by PIPELINE#NUMBER.
    const byQuery = await get(`/runs/${runId.slice(0, 8)}/logs?stage=talk`);
    assert.equal(byQuery.status, 200);
    assert.match(await byQuery.text(), /line one/);
    const byNumber = await get(`/runs/${encodeURIComponent("talk#1")}/stages/talk/logs`);
    assert.match(await byNumber.text(), /line three/);
  });

  it("gives the latest attempt by default and any other with ?attempt=N", async () => {
    const latest = await get(`/runs/${runId}/stages/retried/logs`);
    assert.deepEqual([latest.headers.get("x-dockyard-attempt"), latest.headers.get("x-dockyard-attempts")], ["2", "2"]);
    const latestText = await latest.text();
    assert.match(latestText, /attempt 2/);
    assert.doesNotMatch(latestText, /attempt 1/);
    const first = await get(`/runs/${runId}/stages/retried/logs?attempt=1`);
    const firstText = await first.text();
    assert.match(firstText, /attempt 1/);
    assert.doesNotMatch(firstText, /attempt 2/);
  });

  it("pages a large log with limit and from: the pages add up to the whole output", async () => {
    const whole = await get(`/runs/${runId}/stages/big/logs`);
    assert.equal(await whole.text(), BIG);
    let from = 0;
    let text = "";
    let pages = 0;
    for (;;) {
      const res = await get(`/runs/${runId}/stages/big/logs?limit=16384&from=${from}`);
      assert.equal(res.status, 200);
      const page = await res.text();
      pages++;
      text += page;
      const next = Number(res.headers.get("x-dockyard-next-from"));
      if (res.headers.get("x-dockyard-complete") === "true") break;
      assert.ok(next > from && page.length > 0, `page ${pages} moves on (from ${from} to ${next})`);
      assert.ok(Buffer.byteLength(page) <= 16384 + 64 * 1024, "a page is bounded");
      from = next;
    }
    assert.ok(pages > 3, `${BIG.length} bytes in ${pages} pages of 16 KiB`);
    assert.equal(text, BIG);
    // Asking past the end gives nothing more, and says it is complete.
    const past = await get(`/runs/${runId}/stages/big/logs?from=${Number.MAX_SAFE_INTEGER}`);
    assert.deepEqual([await past.text(), past.headers.get("x-dockyard-complete")], ["", "true"]);
  });

  it("refuses bad parameters with a 400 that names them, and unknown stages and attempts with a 404 naming what exists", async () => {
    const cases: [string, number, RegExp][] = [
      ["/stages/talk/logs?attempt=0", 400, /invalid attempt '0': expected a whole number from 1 to 1000/],
      ["/stages/talk/logs?attempt=x", 400, /invalid attempt 'x'/],
      ["/stages/talk/logs?from=-1", 400, /invalid from '-1': expected a whole number from 0/],
      ["/stages/talk/logs?limit=0", 400, /invalid limit '0': expected a whole number from 1 to 8388608/],
      ["/stages/talk/logs?limit=99999999", 400, /invalid limit '99999999'/],
      ["/stages/talk/logs?tail=5", 400, /unknown query parameter 'tail': expected attempt, from, limit/],
      ["/logs", 400, /stage is required/],
      ["/stages/nope/logs", 404, /run [0-9a-f-]+ has no stage 'nope' \(stages: talk, retried, big\)/],
      ["/stages/retried/logs?attempt=3", 404, /stage 'retried' of run [0-9a-f-]+ has no attempt 3 \(attempts: 1, 2\)/],
    ];
    for (const [route, status, message] of cases) {
      const res = await get(`/runs/${runId}${route}`);
      const body = (await res.json()) as { error: { message: string } };
      assert.equal(res.status, status, route);
      assert.match(body.error.message, message, route);
    }
    assert.equal((await get(`/runs/${runId}/stages/talk/logs`, null)).status, 401, "needs an API token");
    assert.equal((await get(`/runs/ffffffff/stages/talk/logs`)).status, 404);
  });
});
