// The runs list and agent drains through gRPC and the `dockyard` binary against a real farm, held
// against the HTTP API: ListRuns and `dockyard runs` filter (pipeline, state, branch, since, until)
// and page by cursor exactly as GET /api/v1/runs does (every page walked, no run twice, none
// missed); a bad filter is refused naming the field (gRPC) or the flag (CLI); `runs --json` prints
// the objects HTTP answers; `agents drain` keeps new stages off an agent until `agents undrain`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { AgentView, RunPageView, RunView } from "@dockyard/web";
import type { ListRunsRequest } from "@dockyard/proto";
import { startFarm, submit, waitFor, type Farm } from "../index";
import { dockyard, http } from "../helpers/status-cli";

/** A ListRuns request's fields, any of them. */
type ListQuery = Partial<Omit<ListRunsRequest, "$typeName" | "$unknown">>;

/** A run that stays queued (no agent has the pool), so only the test changes it. */
const queued = (name: string) =>
  `name: ${name}\nstages:\n  one:\n    executor: shell\n    agent: { pool: nowhere }\n    commands: ["true"]\n`;
const fanout = `name: cra-fanout
stages:
${[1, 2, 3, 4].map((i) => `  s${i}:\n    executor: shell\n    commands: ["echo s${i}"]\n`).join("")}`;

describe("runs list and agent drain: gRPC and CLI as HTTP", { timeout: 240_000 }, () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({
      agents: [
        { name: "cra-a", executor: "shell", capacity: 4 },
        { name: "cra-b", executor: "shell", capacity: 4 },
      ],
    });
  });
  after(async () => farm?.stop());

  /** Run ids of every HTTP page of `query` (pages of 500: one call), the reference order. */
  async function httpIds(query: string): Promise<string[]> {
    const res = await http(farm, "GET", `/runs?limit=500&${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal((res.json as RunPageView).nextCursor, null);
    return (res.json as RunPageView).runs.map((r) => r.id);
  }
  /** Every gRPC page of `req` in pages of `limit`: the ids in order, and the cursors returned. */
  async function grpcWalk(req: ListQuery, limit: number) {
    const ids: string[] = [];
    const cursors: string[] = [];
    let cursor = "";
    do {
      const res = await farm.client.listRuns({ ...req, limit, cursor });
      assert.ok(res.runs.length <= limit);
      ids.push(...res.runs.map((r) => r.id));
      cursor = res.nextCursor;
      if (cursor) cursors.push(cursor);
    } while (cursor);
    return { ids, cursors };
  }
  /** `dockyard runs ARGS --json` page after page, following the cursor it prints on stderr. */
  async function cliWalk(args: string[]): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await dockyard(farm, ["runs", ...args, "--json", ...(cursor ? ["--cursor", cursor] : [])]);
      assert.equal(r.code, 0, r.stderr);
      ids.push(...(JSON.parse(r.stdout) as RunView[]).map((x) => x.id));
      cursor = /more runs: add --cursor ([A-Za-z0-9_-]+)/.exec(r.stderr)?.[1];
      pages++;
    } while (cursor);
    return { ids, pages };
  }

  it("ListRuns and `dockyard runs` walk every page with no repeat or gap, and filter as GET /runs does", async () => {
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    const at = (h: number) => new Date(t0 + h * 3600_000);
    const names = ["cra-p", "cra-q", "cra-p", "cra-p", "cra-q", "cra-p", "cra-p", "cra-p", "cra-q", "cra-p"];
    const ids: string[] = [];
    for (const name of names) ids.push(await submit(farm.client, queued(name)));
    for (const [i, id] of ids.entries())
      await farm.pg.query("UPDATE runs SET created_at = $1 WHERE id = $2", [at(i), id]);
    // Three runs in the same millisecond: the id orders them, so no page boundary splits them wrongly.
    await farm.pg.query("UPDATE runs SET created_at = $1 WHERE id = ANY($2)", [at(3), [ids[2], ids[3], ids[5]]]);
    await farm.pg.query("UPDATE runs SET branch = 'rel/1' WHERE id = ANY($1)", [[ids[0], ids[5], ids[9]]]);
    await farm.client.cancelRun({ runId: ids[6]! });

    const expected = await httpIds("pipeline=cra-p");
    assert.equal(expected.length, 7);
    const walked = await grpcWalk({ pipeline: "cra-p" }, 3);
    assert.deepEqual(walked.ids, expected, "every run once, in the HTTP order");
    assert.equal(new Set(walked.ids).size, walked.ids.length, "no repeat");
    assert.equal(walked.cursors.length, 2, "7 runs in pages of 3");
    // The same cursor as HTTP's for the same page: one implementation.
    const httpFirst = (await http(farm, "GET", "/runs?pipeline=cra-p&limit=3")).json as RunPageView;
    assert.equal(walked.cursors[0], httpFirst.nextCursor);

    const cli = await cliWalk(["--pipeline", "cra-p", "-n", "3"]);
    assert.deepEqual(cli.ids, expected);
    assert.equal(cli.pages, 3);
    const all = await dockyard(farm, ["runs", "--pipeline", "cra-p", "-n", "2", "--all", "--json"]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(
      (JSON.parse(all.stdout) as RunView[]).map((r) => r.id),
      expected,
    );
    assert.doesNotMatch(all.stderr, /more runs/, "--all leaves no page behind");

    // Each filter alone and together: gRPC, the CLI and HTTP list the same runs.
    const since = at(1).toISOString();
    const until = at(8).toISOString();
    const cases: [string, ListQuery, string[]][] = [
      ["pipeline=cra-q", { pipeline: "cra-q" }, ["--pipeline", "cra-q"]],
      [
        "pipeline=cra-p&state=canceled",
        { pipeline: "cra-p", state: "canceled" },
        ["--pipeline", "cra-p", "--state", "canceled"],
      ],
      ["branch=rel%2F1", { branch: "rel/1" }, ["--branch", "rel/1"]],
      [`since=${since}&until=${until}`, { since, until }, ["--since", since, "--until", until]],
      [
        `pipeline=cra-p&state=queued&since=${since}&until=${until}`,
        { pipeline: "cra-p", state: "queued", since, until },
        ["--pipeline", "cra-p", "--state", "queued", "--since", since, "--until", until],
      ],
      ["pipeline=nothing-named-so", { pipeline: "nothing-named-so" }, ["--pipeline", "nothing-named-so"]],
    ];
    for (const [query, req, flags] of cases) {
      const want = await httpIds(query);
      assert.deepEqual((await grpcWalk(req, 2)).ids, want, `gRPC ${query}`);
      assert.deepEqual((await cliWalk([...flags, "-n", "2"])).ids, want, `CLI ${flags.join(" ")}`);
    }
    // An age is a time that long ago: the runs of January are all older than a day, none newer.
    assert.deepEqual((await cliWalk(["--pipeline", "cra-p", "--until", "1d", "-n", "500"])).ids, expected);
    assert.deepEqual((await cliWalk(["--pipeline", "cra-p", "--since", "1d"])).ids, []);
    // The windows hold what they should (a check of the reference itself): since inclusive, until exclusive.
    assert.deepEqual(await httpIds("branch=rel%2F1"), [ids[9], ids[5], ids[0]]);
    assert.deepEqual(await httpIds(`pipeline=cra-p&state=canceled`), [ids[6]]);
    assert.equal((await httpIds(`since=${since}&until=${until}`)).length, 7);
  });

  it("refuses a bad filter naming it: INVALID_ARGUMENT over gRPC, a usage error naming the flag in the CLI", async () => {
    const good = await farm.client.listRuns({ pipeline: "cra-p", since: "2026-01-01T00:00:00Z", limit: 1 });
    assert.equal(good.runs.length, 1, "positive control: valid filters are answered");
    const cases: [ListQuery, RegExp][] = [
      [{ limit: 501 }, /^invalid limit '501': expected a whole number from 1 to 500/],
      [{ state: "bogus" }, /^invalid state 'bogus': expected one of queued, running/],
      [{ since: "yesterday" }, /^invalid since 'yesterday': expected an ISO-8601 time with a zone/],
      [{ until: "2026-13-45T00:00:00Z" }, /^invalid until '2026-13-45T00:00:00Z'/],
      [{ since: "2026-01-01T00:00:00" }, /^invalid since .*with a zone/],
      [{ since: "2026-02-01T00:00:00Z", until: "2026-01-01T00:00:00Z" }, /^invalid until .*later than since/],
      [{ cursor: "not-a-cursor!" }, /^invalid cursor .*nextCursor of the page before/],
      [{ cursor: Buffer.from('["x"]').toString("base64url") }, /^invalid cursor/],
      [{ pipeline: "p".repeat(201) }, /^invalid pipeline .*at most 200/],
      [{ branch: "a\nb" }, /^invalid branch/],
    ];
    for (const [req, message] of cases) {
      await assert.rejects(farm.client.listRuns(req), (err: { code?: number; details?: string }) => {
        assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT, JSON.stringify(req));
        assert.match(err.details ?? "", message);
        return true;
      });
    }

    const flags: [string[], RegExp][] = [
      [["--since", "yesterday"], /option '--since <time>' argument 'yesterday' is invalid.*ISO-8601/],
      [["--until", "2026-13-45T00:00:00Z"], /option '--until <time>'.*is invalid/],
      [["--cursor", "%%%"], /option '--cursor <cursor>'.*invalid cursor/],
      [["--pipeline", "p".repeat(201)], /option '--pipeline <name>'.*at most 200/],
      [["--state", "bogus"], /option '--state <state>'.*state must be one of/],
      [
        ["--since", "2026-02-01T00:00:00Z", "--until", "2026-01-01T00:00:00Z"],
        /--until: invalid until .*later than since/,
      ],
    ];
    for (const [args, message] of flags) {
      const r = await dockyard(farm, ["runs", ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    const badId = await dockyard(farm, ["agents", "drain", "not-an-id"]);
    assert.equal(badId.code, 2);
    assert.match(
      badId.stderr,
      /value 'not-an-id' is invalid for argument 'id'\. invalid agent id 'not-an-id': an agent id is a UUID/,
    );
    const unknown = await dockyard(farm, ["agents", "drain", "00000000-0000-0000-0000-000000000000"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /agent not found: 00000000-0000-0000-0000-000000000000/);
  });

  /** Agent names that ran a fresh run's stages (it must succeed). */
  async function ranOn(): Promise<string[]> {
    const id = await submit(farm.client, fanout);
    const run = await waitFor(
      async () => {
        const r = (await http(farm, "GET", `/runs/${id}`)).json.run as RunView;
        return r.state === "succeeded" ? r : undefined;
      },
      { timeoutMs: 60_000, message: `run ${id} to succeed` },
    );
    return [...new Set(run.stages.map((s) => s.attemptHistory.at(-1)!.agentName!))].sort();
  }
  const agents = async () => (await http(farm, "GET", "/agents")).json.agents as AgentView[];

  it("`runs --json` prints the run GET /runs and GET /runs/:id answer, deep-equal", async () => {
    await ranOn();
    const listed = (await http(farm, "GET", "/runs?pipeline=cra-fanout&limit=1")).json as RunPageView;
    const httpRun = listed.runs[0]!;
    assert.equal(httpRun.state, "succeeded");
    assert.ok(
      httpRun.stages.every((s) => s.attemptHistory.length === 1 && s.agentId),
      "a run with attempts",
    );
    const cli = await dockyard(farm, ["runs", "--pipeline", "cra-fanout", "-n", "1", "--json"]);
    assert.equal(cli.code, 0, cli.stderr);
    const [cliRun] = JSON.parse(cli.stdout) as RunView[];
    assert.deepEqual(cliRun, httpRun);
    assert.deepEqual(cliRun, (await http(farm, "GET", `/runs/${httpRun.id}`)).json.run);
  });

  it("`agents drain` keeps new stages off the agent through its heartbeats; `agents undrain` gives it work again", async () => {
    await waitFor(async () => (await agents()).filter((a) => a.state === "online").length === 2, {
      message: "both agents online",
    });
    const idOf = async (name: string) => (await agents()).find((a) => a.name === name)!.id;
    const a = await idOf("cra-a");
    const b = await idOf("cra-b");
    const drained = await dockyard(farm, ["agents", "drain", a, "--json"]);
    assert.equal(drained.code, 0, drained.stderr);
    const view = JSON.parse(drained.stdout) as AgentView;
    assert.equal(view.state, "draining");
    assert.ok(view.drainRequestedAt);
    // The CLI's agent is the HTTP one (the heartbeat time moves on between the two reads).
    const httpA = (await agents()).find((x) => x.id === a)!;
    assert.deepEqual({ ...view, lastHeartbeatAt: null }, { ...httpA, lastHeartbeatAt: null });
    // Several runs while drained (the farm's agents beat every 300 ms): every stage on cra-b.
    for (let i = 0; i < 3; i++) assert.deepEqual(await ranOn(), ["cra-b"]);
    assert.equal((await agents()).find((x) => x.id === a)!.state, "draining", "still draining after heartbeats");

    // Positive control: with cra-b drained and cra-a undrained, the work goes to cra-a.
    assert.equal((await dockyard(farm, ["agents", "drain", b])).code, 0);
    const undrained = await dockyard(farm, ["agents", "undrain", a]);
    assert.equal(undrained.code, 0, undrained.stderr);
    assert.match(undrained.stdout, new RegExp(`undrained agent ${a} \\(cra-a\\)`));
    await waitFor(async () => (await agents()).find((x) => x.id === a)!.state === "online", {
      message: "cra-a online again at its next heartbeat",
    });
    assert.equal((await agents()).find((x) => x.id === a)!.drainRequestedAt, null);
    assert.deepEqual(await ranOn(), ["cra-a"]);
    assert.equal((await dockyard(farm, ["agents", "undrain", b])).code, 0);

    // Revoked over the CLI: a drain is then refused (the server's conflict, exit 1).
    const revoked = await dockyard(farm, ["agents", "revoke", b]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const refused = await dockyard(farm, ["agents", "drain", b]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is revoked/);
  });
});
