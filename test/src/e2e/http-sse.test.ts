// Live streams over SSE against real servers (two replicas, one Postgres, one NATS): a run's
// log lines resume after a dropped connection with Last-Event-ID, on the same replica or the
// other, with no line lost or repeated; a client that stops reading is bounded, told where its
// stream stopped (`gap`), and resumes from there; the runs list streams changes; no token, a
// wrong token and a disabled user's token are refused.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { openSse, REPO_ROOT, startFarm, submit, waitFor, waitForRun, type Farm, type SseConnection } from "../index";

const BUFFER_BYTES = 32 * 1024;
const SSE_ENV = { DOCKYARD_SSE_BUFFER_BYTES: String(BUFFER_BYTES), DOCKYARD_SSE_HEARTBEAT_MS: "200" };

/** Lines `n 1` .. `n COUNT`, a pause every `every` so the run is live for a while. */
const numbered = (name: string, count: number, every: number, pad = "") => `
name: ${name}
stages:
  talk:
    executor: shell
    command: 'i=1; while [ $i -le ${count} ]; do echo "n $i${pad}"; [ $((i % ${every})) = 0 ] && sleep 0.1; i=$((i+1)); done'
`;

interface Collected {
  /** The log's text as received (a chunk may end inside a line). */
  text: string;
  seqs: number[];
  lastId: string | null;
  gap: { lastSeq: number } | null;
  end: boolean;
}

/** Reads one connection's events into `into` until `stop` says so (then drops it) or the stream ends. */
async function collect(conn: SseConnection, into: Collected, stop?: () => boolean): Promise<void> {
  let i = 0;
  for (;;) {
    for (; i < conn.events.length; i++) {
      const e = conn.events[i]!;
      if (e.id !== null) into.lastId = e.id;
      if (e.event === "log") {
        const d = JSON.parse(e.data) as { seq: number; text: string };
        into.seqs.push(d.seq);
        into.text += d.text;
      }
      if (e.event === "gap") into.gap = JSON.parse(e.data) as { lastSeq: number };
      if (e.event === "end") into.end = true;
    }
    if (stop?.()) return conn.close();
    if (into.end || into.gap) return;
    const ended = await Promise.race([conn.ended.then(() => true), new Promise((r) => setTimeout(r, 20, false))]);
    if (ended && i === conn.events.length) return;
  }
}

const linesOf = (got: Collected) => got.text.split("\n").filter(Boolean);

function assertEveryLineOnce(got: Collected, count: number): void {
  for (let i = 1; i < got.seqs.length; i++) assert.ok(got.seqs[i]! > got.seqs[i - 1]!, "seqs increase");
  const lines = linesOf(got).map((l) => l.trimEnd());
  const want = Array.from({ length: count }, (_, i) => `n ${i + 1}`);
  assert.equal(lines.length, count, "as many lines as the stage printed");
  assert.deepEqual(lines, want, "every line once, in order");
}

describe("live streams over SSE", { timeout: 240_000 }, () => {
  let farm: Farm;
  let second: ChildProcess;
  let secondHttp = "";
  const url = (base: string, route: string) => `${base}/api/v1${route}`;

  before(async () => {
    farm = await startFarm({ env: SSE_ENV, agents: [{ name: "sse-a", executor: "shell", capacity: 4 }] });
    second = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "test/src/bin/server.ts")], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...SSE_ENV,
        DATABASE_URL: farm.database.url,
        DOCKYARD_NATS_URL: farm.config.natsUrl,
        DOCKYARD_NATS_PREFIX: farm.prefix,
        DOCKYARD_GRPC_LISTEN: "127.0.0.1:0",
        DOCKYARD_HTTP_LISTEN: "127.0.0.1:0",
        DOCKYARD_API_TOKEN: farm.apiToken,
        DOCKYARD_LOG_LEVEL: "info",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    second.stdout!.on("data", (d: Buffer) => {
      const m = /"http":"(http:\/\/[^"]+)"/.exec(d.toString());
      if (m) secondHttp = m[1]!;
    });
    await waitFor(() => secondHttp, { message: "second server to start" });
  });
  after(async () => {
    if (second && second.exitCode === null) {
      const exited = new Promise((r) => second.once("exit", r));
      second.kill("SIGTERM");
      await exited;
    }
    await farm?.stop();
  });

  it("resumes a run's log after dropped connections, on either replica, with no line lost or repeated", async () => {
    const count = 3000;
    const runId = await submit(farm.client, numbered("sse-resume", count, 200));
    const got: Collected = { text: "", seqs: [], lastId: null, gap: null, end: false };
    const bases = [farm.server.httpUrl, secondHttp, farm.server.httpUrl, secondHttp];
    let drops = 0;
    let heartbeats = 0;
    let snapshot = "";
    for (const [i, base] of bases.entries()) {
      const conn = await openSse(url(base, `/runs/${runId}/events`), { token: farm.apiToken, lastEventId: got.lastId });
      assert.equal(conn.status, 200, conn.body);
      assert.equal(conn.headers["content-type"], "text/event-stream; charset=utf-8");
      const before = linesOf(got).length;
      // Drop each of the first three connections after some more lines (mid-event for the stream: it is cut).
      const last = i === bases.length - 1;
      await collect(conn, got, last ? undefined : () => linesOf(got).length >= before + 500);
      if (!last) drops++;
      heartbeats += conn.comments;
      snapshot ||= conn.events.find((e) => e.event === "snapshot")?.data ?? "";
      if (got.end) break;
    }
    assert.ok(got.end, "the last connection followed the run to its end");
    assert.equal(got.gap, null, "a client that reads is never told it was too slow");
    assert.equal(drops, 3, "the stream was dropped three times before the run ended");
    assertEveryLineOnce(got, count);
    assert.equal((JSON.parse(snapshot) as { run: { id: string } }).run.id, runId, "a snapshot RunView came first");
    assert.ok(heartbeats > 0, "heartbeat comments were sent");
    // ?after=SEQ starts there too (a page's first connect), on the second replica.
    const mid = got.seqs[Math.floor(got.seqs.length / 2)]!;
    const tail: Collected = { text: "", seqs: [], lastId: null, gap: null, end: false };
    await collect(await openSse(url(secondHttp, `/runs/${runId}/events?after=${mid}`), { token: farm.apiToken }), tail);
    assert.ok(tail.end);
    assert.deepEqual(
      tail.seqs,
      got.seqs.filter((s) => s > mid),
      "exactly the events after `after`",
    );
  });

  it("bounds a client that stops reading, tells it where it stopped (gap), and it resumes from there", async () => {
    // About 12 MB of log: more than the socket buffers of both ends and the server's 32 KiB per client.
    const count = 120_000;
    const pad = " ".repeat(90);
    const runId = await submit(farm.client, numbered("sse-slow", count, 20_000, pad));
    const slow = await openSse(url(farm.server.httpUrl, `/runs/${runId}/events`), {
      token: farm.apiToken,
      paused: true,
    });
    assert.equal(slow.status, 200);
    // A reading client on the same run meanwhile, on the other replica: it follows the run to its end (this process
    // also runs the first server and the agent, so it may itself fall behind for a moment: it resumes from a gap).
    const fast: Collected = { text: "", seqs: [], lastId: null, gap: null, end: false };
    let fastGaps = 0;
    const fastDone = (async () => {
      while (!fast.end) {
        if (fast.gap) fastGaps++;
        fast.gap = null;
        const conn = await openSse(url(secondHttp, `/runs/${runId}/events`), {
          token: farm.apiToken,
          lastEventId: fast.lastId,
        });
        await collect(conn, fast);
      }
    })();
    const run = await waitForRun(farm.client, runId, 180_000);
    assert.equal(run.state, "succeeded");
    await fastDone;
    assertEveryLineOnce(fast, count);
    const logBytes = fast.text.length;
    assert.ok(logBytes > 10_000_000, `the log is large (${logBytes} bytes)`);

    slow.resume();
    const got: Collected = { text: "", seqs: [], lastId: null, gap: null, end: false };
    await collect(slow, got);
    assert.ok(got.gap, "the slow client was told it missed events");
    assert.equal(String(got.gap.lastSeq), got.lastId, "the gap names the last event it got, and is its id");
    assert.equal(got.seqs.at(-1), got.gap.lastSeq);
    assert.ok(
      slow.bytes < logBytes / 2,
      `the slow client got a bounded part (${slow.bytes} of ${logBytes} bytes; the reader resumed ${fastGaps} gaps)`,
    );
    // Resume from the gap: the rest, with nothing lost or repeated.
    while (!got.end) {
      got.gap = null;
      await collect(
        await openSse(url(farm.server.httpUrl, `/runs/${runId}/events`), {
          token: farm.apiToken,
          lastEventId: got.lastId,
        }),
        got,
      );
    }
    assertEveryLineOnce(got, count);
  });

  it("streams the runs list: a snapshot, then runs as they are created and change, on either replica", async () => {
    const conns = await Promise.all(
      [farm.server.httpUrl, secondHttp].map((b) => openSse(url(b, "/runs/stream?limit=5"), { token: farm.apiToken })),
    );
    for (const c of conns) {
      await waitFor(() => c.events.find((e) => e.event === "runs"), { message: "the runs snapshot" });
    }
    // Running for about 3 s: long enough for a loaded replica to read it while it runs.
    const runId = await submit(farm.client, numbered("sse-list", 30, 1));
    await waitForRun(farm.client, runId);
    for (const c of conns) {
      const states = await waitFor(
        () => {
          const s = c.events
            .filter((e) => e.event === "run")
            .map((e) => JSON.parse(e.data) as { run: { id: string; state: string } })
            .filter((d) => d.run.id === runId)
            .map((d) => d.run.state);
          return s.includes("succeeded") ? s : null;
        },
        { message: "the new run's changes on the runs stream" },
      );
      assert.ok(states.length >= 2, `created then changed: ${states.join(", ")}`);
      c.close();
    }
  });

  it("refuses no token, a wrong token and a disabled user's token; unknown runs and bad input are named", async () => {
    await farm.client.addUser({ name: "sse-gone", roles: ["viewer"] });
    const { token: gone } = await farm.client.createApiToken({ user: "sse-gone" });
    const ok = await openSse(url(farm.server.httpUrl, "/runs/stream"), { token: gone });
    assert.equal(ok.status, 200, "the token worked before (so the refusal below is the disabling)");
    ok.close();
    await farm.client.disableUser({ name: "sse-gone" });
    const runId = await submit(farm.client, numbered("sse-auth", 1, 1));
    for (const route of [`/runs/${runId}/events`, "/runs/stream"]) {
      for (const token of [null, "dya_wrong_0123456789abcdef", gone]) {
        const res = await openSse(url(secondHttp, route), { token });
        assert.equal(res.status, 401, `${route} with ${token === null ? "no token" : token}: ${res.body}`);
        assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, "unauthenticated");
      }
    }
    const unknown = await openSse(url(farm.server.httpUrl, `/runs/${encodeURIComponent("no-such#1")}/events`), {
      token: farm.apiToken,
    });
    assert.equal(unknown.status, 404, unknown.body);
    const badId = await openSse(url(farm.server.httpUrl, `/runs/${runId}/events`), {
      token: farm.apiToken,
      lastEventId: "abc",
    });
    assert.equal(badId.status, 400);
    assert.match(badId.body, /Last-Event-ID/);
    const badAfter = await openSse(url(farm.server.httpUrl, `/runs/${runId}/events?after=-1`), {
      token: farm.apiToken,
    });
    assert.equal(badAfter.status, 400);
    assert.match(badAfter.body, /invalid after/);
  });
});
