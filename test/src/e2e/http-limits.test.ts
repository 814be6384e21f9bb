// Limits of the HTTP API against a real server: the per-token rate limit (429 with Retry-After,
// per token, then recovery after the wait it names) and the body limits of routes that take a body.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ErrorBody } from "@dockyard/web";
import { startFarm, waitFor, type Farm } from "../index";

// A token back every 4 s: the "still refused" control right after the 429 holds however slow the
// machine is (at 2/s, a loaded run took more than the 0.5 s refill between the 429 and it).
const RATE = 0.25;
const BURST = 5;

describe("HTTP API limits", { timeout: 120_000 }, () => {
  let farm: Farm;
  let other: string;
  before(async () => {
    farm = await startFarm({ env: { DOCKYARD_API_RATE_PER_S: String(RATE), DOCKYARD_API_RATE_BURST: String(BURST) } });
    await farm.client.addUser({ name: "lim-viewer", roles: ["viewer"] });
    other = (await farm.client.createApiToken({ user: "lim-viewer" })).token;
  });
  after(async () => farm?.stop());

  const get = (token: string, path = "/api/v1/agents") =>
    fetch(`${farm.server.httpUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it("answers 429 with Retry-After past the burst, per token, and serves again after the wait", async () => {
    const statuses: number[] = [];
    let refused: Response | undefined;
    // More than the burst plus what refills while they run (requests take well under 100 ms here).
    for (let i = 0; i < BURST + 5 && !refused; i++) {
      const res = await get(farm.apiToken);
      statuses.push(res.status);
      if (res.status === 429) refused = res;
      else await res.body?.cancel();
    }
    assert.ok(refused, `a 429 within ${BURST + 5} requests: ${statuses.join(",")}`);
    assert.ok(statuses.filter((s) => s === 200).length >= BURST, `the burst was served: ${statuses.join(",")}`);
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 1 / RATE, `Retry-After ${retryAfter}`);
    const body = (await refused.json()) as ErrorBody;
    assert.equal(body.error.code, "rate_limited");
    assert.match(body.error.message, /at most 0\.25\/s \(bursts of 5\)/);

    // Another token has its own bucket.
    const another = await get(other);
    assert.equal(another.status, 200);
    await another.body?.cancel();
    // Right away, still refused (the positive control for the recovery below).
    const still = await get(farm.apiToken);
    assert.equal(still.status, 429);
    await still.body?.cancel();

    // Served again by the time it named (polled; a little slack for the request itself).
    const refusedAt = Date.now();
    await waitFor(
      async () => {
        const res = await get(farm.apiToken);
        await res.body?.cancel();
        return res.status === 200;
      },
      { timeoutMs: retryAfter * 1000 + 5000, intervalMs: 100, message: "the token to be served again" },
    );
    const waited = Date.now() - refusedAt;
    assert.ok(
      waited <= retryAfter * 1000 + 1000,
      `served ${waited} ms after the 429, Retry-After said ${retryAfter} s`,
    );
  });

  it("leaves /healthz, /readyz and /metrics alone", async () => {
    for (let i = 0; i < BURST * 3; i++) {
      const res = await fetch(`${farm.server.httpUrl}/healthz`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
  });

  it("refuses a body over its route's limit with 413 before reading it", async () => {
    await farm.client.addUser({ name: "lim-admin", roles: ["admin"] });
    let admin = "";
    const post = async (path: string, bytes: number) => {
      const res = await fetch(`${farm.server.httpUrl}/api/v1${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        body: JSON.stringify({ comment: "x".repeat(bytes) }),
      });
      return { status: res.status, body: (await res.json()) as ErrorBody };
    };
    for (const [path, limit] of [
      ["/runs", 1024 * 1024],
      ["/runs/abcdef/stages/s/approve", 8 * 1024],
      ["/runs/abcdef/cancel", 1024],
      ["/services/web/rollback", 8 * 1024],
      ["/users/nobody/disable", 8 * 1024],
    ] as const) {
      // A fresh token per route: its bucket is full, whatever this farm's low rate.
      admin = (await farm.client.createApiToken({ user: "lim-admin" })).token;
      const res = await post(path, limit + 10);
      assert.equal(res.status, 413, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "too_large");
      assert.match(res.body.error.message, new RegExp(`limit of ${limit} bytes`));
      // Positive control: a small body reaches the route (and earns its own answer, not 413).
      assert.notEqual((await post(path, 10)).status, 413, path);
    }
  });
});
