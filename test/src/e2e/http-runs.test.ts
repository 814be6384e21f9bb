// GET /api/v1/runs over real HTTP against a real server: cursor pages without a gap or a repeat
// while runs are added (ties in creation time included), the filters (pipeline, state, since,
// until) alone and together, and each bad parameter answered 400 naming it in `error.field`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ErrorBody, RunPageView, RunView } from "@dockyard/web";
import { startFarm, type Farm } from "../index";

const pipeline = (name: string) => `name: ${name}\nstages:\n  one:\n    executor: shell\n    commands: ["true"]\n`;

describe("GET /api/v1/runs: pages and filters", { timeout: 120_000 }, () => {
  let farm: Farm;
  before(async () => {
    // No agent: the runs stay queued, so only this test changes them.
    farm = await startFarm();
  });
  after(async () => farm?.stop());

  async function call(method: string, path: string, body?: string) {
    const res = await fetch(`${farm.server.httpUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${farm.apiToken}` },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  async function submitRun(name: string): Promise<RunView> {
    const res = await call("POST", "/runs", pipeline(name));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.run as RunView;
  }
  async function page(query: string): Promise<RunPageView> {
    const res = await call("GET", `/runs?${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as unknown as RunPageView;
  }
  async function allPages(query: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const p: RunPageView = await page(`${query}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      ids.push(...p.runs.map((r) => r.id));
      cursor = p.nextCursor;
    } while (cursor);
    return ids;
  }

  it("pages newest first without a gap or a repeat while runs are added, ties in time included", async () => {
    const first: RunView[] = [];
    for (let i = 0; i < 7; i++) first.push(await submitRun("paged"));
    // Three runs created in the same millisecond: the id orders them, so no page boundary splits them wrongly.
    const tie = new Date(Date.parse(first[3]!.createdAt));
    await farm.pg.query("UPDATE runs SET created_at = $1 WHERE id = ANY($2)", [
      tie,
      [first[2]!.id, first[3]!.id, first[4]!.id],
    ]);
    const expected = (await page("pipeline=paged&limit=500")).runs.map((r) => r.id);
    assert.equal(expected.length, 7);
    assert.equal(new Set(expected).size, 7);

    const seen: string[] = [];
    const added: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const p: RunPageView = await page(`pipeline=paged&limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      assert.ok(p.runs.length <= 3);
      seen.push(...p.runs.map((r) => r.id));
      cursor = p.nextCursor;
      pages++;
      // Runs added between pages are newer than every run already listed: they never shift the later pages.
      added.push((await submitRun("paged")).id, (await submitRun("paged")).id);
    } while (cursor);
    assert.equal(pages, 3, "7 runs in pages of 3");
    assert.deepEqual(seen, expected, "every run once, in order, none of the added ones");
    assert.equal(new Set(seen).size, seen.length, "no repeat");
    // Positive control: the added runs are listed, newest first, on a fresh first page.
    const fresh = await page("pipeline=paged&limit=6");
    assert.deepEqual(
      fresh.runs.map((r) => r.id),
      [...added].reverse(),
    );
    assert.notEqual(fresh.nextCursor, null);
    // The last page says so.
    const whole = await page(`pipeline=paged&limit=${7 + added.length}`);
    assert.equal(whole.nextCursor, null);
    assert.equal(whole.runs.length, 7 + added.length);
  });

  it("filters by pipeline, state, since and until, alone and together", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    const at = (h: number) => new Date(t0 + h * 3600_000);
    const runs: RunView[] = [];
    for (const name of ["fa", "fb", "fa", "fb", "fa"]) runs.push(await submitRun(name));
    for (const [i, r] of runs.entries())
      await farm.pg.query("UPDATE runs SET created_at = $1 WHERE id = $2", [at(i), r.id]);
    const canceled = await call("POST", `/runs/${runs[2]!.id}/cancel`);
    assert.equal(canceled.status, 200, JSON.stringify(canceled.body));
    const ids = (...idx: number[]) => idx.map((i) => runs[i]!.id);

    assert.deepEqual(await allPages("pipeline=fa"), ids(4, 2, 0));
    assert.deepEqual(await allPages("pipeline=fb"), ids(3, 1));
    assert.deepEqual(await allPages("pipeline=fa&state=canceled"), ids(2));
    assert.deepEqual(await allPages("pipeline=fa&state=queued"), ids(4, 0));
    // since is inclusive, until exclusive.
    const since = at(1).toISOString();
    const until = at(4).toISOString();
    assert.deepEqual(await allPages(`since=${since}&until=${until}`), ids(3, 2, 1));
    assert.deepEqual(await allPages(`pipeline=fb&since=${since}&until=${until}`), ids(3, 1));
    assert.deepEqual(await allPages(`since=2026-01-01T01:30:00%2B00:00&until=${until}`), ids(3, 2));
    assert.deepEqual(await allPages("pipeline=nothing-named-so"), []);
  });

  it("refuses each bad parameter with 400, naming it in error.field", async () => {
    const cases: [string, string, RegExp][] = [
      ["limit=abc", "limit", /invalid limit 'abc'/],
      ["limit=0", "limit", /from 1 to 500/],
      ["state=bogus", "state", /expected one of queued, running/],
      ["since=yesterday", "since", /ISO-8601/],
      ["until=2026-13-45T00:00:00Z", "until", /ISO-8601/],
      ["since=2026-01-01T00:00:00", "since", /with a zone/],
      ["since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until", /later than since/],
      ["cursor=not-a-cursor", "cursor", /nextCursor of the page before/],
      [`cursor=${Buffer.from('["x"]').toString("base64url")}`, "cursor", /invalid cursor/],
      [`pipeline=${"p".repeat(201)}`, "pipeline", /at most 200/],
      ["sort=name", "sort", /unknown query parameter 'sort'/],
    ];
    for (const [query, field, message] of cases) {
      const res = await call("GET", `/runs?${query}`);
      assert.equal(res.status, 400, query);
      const body = res.body as unknown as ErrorBody;
      assert.equal(body.error.code, "invalid", query);
      assert.equal(body.error.field, field, query);
      assert.match(body.error.message, message, query);
    }
  });
});
