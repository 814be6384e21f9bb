// The web UI's run and agent actions in a real browser (Chromium through playwright-core)
// against a real farm (two shell agents): a failed run re-run from its failed stage ends on the
// new run's page (and, its cause fixed, succeeds with the passed stage kept); an admin drains
// and undrains an agent and sees its state change; revoke needs its checkbox; a viewer sees
// none of these buttons, and a forged POST to each new route without the CSRF token (or by a
// viewer with it) is refused with nothing changed; axe finds no serious or critical violation.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { axe, launchChromium, submitLogin } from "../helpers/web-ui";
import type { AgentView, RunView } from "@dockyard/web";
import { tempDir } from "@dockyard/testkit";
import { startFarm, submit, userClient, waitFor, type Farm, type UserClient } from "../index";

const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"];
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

async function login(context: BrowserContext, base: string, token: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${base}/login`);
  await submitLogin(page, base, token);
  return page;
}

describe("web UI actions: re-run, drain/undrain, revoke", { timeout: 240_000 }, () => {
  let farm: Farm;
  let browser: Browser;
  let alice: UserClient;
  let vic: UserClient;
  let base: string;
  let marker: string;
  before(async () => {
    farm = await startFarm({
      agents: [
        { name: "uia-a", executor: "shell", capacity: 4 },
        { name: "uia-b", executor: "shell", capacity: 4 },
      ],
    });
    alice = await userClient(farm, "alice", farm.server.grpcAddress, ["admin"]);
    vic = await userClient(farm, "vic", farm.server.grpcAddress, ["viewer"]);
    base = farm.server.httpUrl;
    marker = path.join(tempDir("web-rerun"), "fixed");
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    for (const u of [alice, vic]) u?.client.close();
    await farm?.stop();
  });

  const api = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${base}/api/v1${p}`, { headers: { authorization: `Bearer ${farm.apiToken}` } });
    return (await res.json()) as T;
  };
  const getRun = async (id: string) => (await api<{ run: RunView }>(`/runs/${id}`)).run;
  const finished = (runId: string) =>
    waitFor(
      async () => {
        const run = await getRun(runId);
        return ["succeeded", "failed", "errored", "canceled"].includes(run.state) ? run : undefined;
      },
      { timeoutMs: 60_000, message: `run ${runId} to finish` },
    );
  const agents = async () => (await api<{ agents: AgentView[] }>("/agents")).agents;
  const agent = async (name: string) => (await agents()).find((a) => a.name === name)!;
  const runCount = async () => (await alice.client.listRuns({ limit: 500 })).runs.length;
  // `flaky` fails until the marker file exists.
  const pipeline = (name: string) =>
    [
      `name: ${name}`,
      "stages:",
      '  build: { executor: shell, command: "echo built" }',
      `  flaky: { executor: shell, command: "test -f ${marker}", needs: [build] }`,
      "",
    ].join("\n");

  it("re-runs a failed run from its failed stage and lands on the new run's page", async () => {
    const first = await finished(await submit(alice.client, pipeline("web-rerun")));
    assert.equal(first.state, "failed");
    const context = await browser.newContext();
    const page = await login(context, base, alice.token);
    await page.goto(`${base}/runs/${first.id}`);
    assert.equal(await page.getByRole("button", { name: "Re-run", exact: true }).count(), 1);
    assert.equal(await page.getByRole("button", { name: "Cancel run" }).count(), 0, "a finished run has no Cancel");
    await axe(page, "a failed run's page");

    writeFileSync(marker, "");
    await page.getByRole("button", { name: "Re-run failed stages" }).click();
    await page.waitForURL(new RegExp(`/runs/${UUID}$`));
    const newId = page.url().split("/").at(-1)!;
    assert.notEqual(newId, first.id, "the new run's page, not the old one");
    await page.getByRole("heading", { level: 1, name: /^Run web-rerun/ }).waitFor();
    const second = await finished(newId);
    assert.equal(second.state, "succeeded");
    const build = second.stages.find((s) => s.name === "build")!;
    assert.equal(build.attempts, 0, "build was kept, not run again");
    assert.equal((await getRun(first.id)).state, "failed", "the first run is unchanged");
    // The page reloads itself once the run it shows has finished (run.js): wait for that page, not a reload of ours,
    // which the page's own would abort.
    await page.locator("#run-state", { hasText: "succeeded" }).waitFor();
    await page.getByRole("button", { name: "Re-run", exact: true }).waitFor();
    await page.waitForLoadState("load");
    assert.equal(await page.getByRole("button", { name: "Re-run failed stages" }).count(), 0, "nothing failed");
    await context.close();
  });

  it("an admin drains and undrains an agent and sees its state change; revoke needs its checkbox", async () => {
    await waitFor(async () => (await agents()).filter((a) => a.state === "online").length === 2, {
      message: "both agents online",
    });
    const context = await browser.newContext();
    const page = await login(context, base, alice.token);
    await page.goto(`${base}/agents`);
    const row = (name: string) => page.getByRole("row").filter({ hasText: name });
    await row("uia-a").getByText("online").waitFor();
    await axe(page, "/agents as an admin");
    await page.getByRole("button", { name: "Drain uia-a" }).click();
    await page.waitForURL(`${base}/agents`);
    await row("uia-a").getByText("draining").waitFor();
    assert.equal((await agent("uia-a")).state, "draining");
    assert.equal(await page.getByRole("button", { name: "Undrain uia-a" }).count(), 1);
    assert.equal((await agent("uia-b")).state, "online", "only the one agent");
    await page.getByRole("button", { name: "Undrain uia-a" }).click();
    await page.waitForURL(`${base}/agents`);
    await page.getByRole("button", { name: "Drain uia-a" }).waitFor();
    // The state goes back to online with the agent's next heartbeat; the page shows it once reloaded.
    await waitFor(async () => (await agent("uia-a")).state === "online", { message: "uia-a online again" });
    await page.reload();
    await row("uia-a").getByText("online").waitFor();

    // Revoke: the browser will not submit without the required box; ticked, the agent is revoked.
    await page.getByRole("button", { name: "Revoke uia-b" }).click();
    assert.equal((await agent("uia-b")).state, "online", "not submitted without the checkbox");
    await page.getByLabel("Yes, revoke uia-b for good").check();
    await page.getByRole("button", { name: "Revoke uia-b" }).click();
    await page.waitForURL(`${base}/agents`);
    await row("uia-b").getByText("revoked").waitFor();
    assert.equal((await agent("uia-b")).state, "revoked");
    await context.close();
  });

  it("a viewer sees none of the new buttons, and forged POSTs to the new routes are refused", async () => {
    const runId = (await finished(await submit(alice.client, pipeline("web-rerun-forge")))).id;
    const a = (await agent("uia-a")).id;
    const admin = await browser.newContext();
    const adminPage = await login(admin, base, alice.token);
    const viewer = await browser.newContext();
    const page = await login(viewer, base, vic.token);
    await page.goto(`${base}/runs/${runId}`);
    await page.getByRole("heading", { level: 1, name: /^Run web-rerun-forge/ }).waitFor();
    assert.equal(await page.getByRole("button", { name: /Re-run/ }).count(), 0);
    await axe(page, "a failed run's page as a viewer");
    await page.goto(`${base}/agents`);
    await page.getByRole("row").filter({ hasText: "uia-a" }).waitFor();
    assert.equal(await page.getByRole("button", { name: /Drain|Undrain|Revoke/ }).count(), 0);
    await axe(page, "/agents as a viewer");

    const csrfOf = async (p: Page) => (await p.locator('meta[name="csrf-token"]').getAttribute("content"))!;
    const routes = [
      `/runs/${runId}/rerun`,
      `/runs/${runId}/rerun-failed`,
      `/agents/${a}/drain`,
      `/agents/${a}/undrain`,
      `/agents/${a}/revoke`,
    ];
    const runsBefore = await runCount();
    for (const route of routes) {
      const post = (p: Page, form: Record<string, string>) => p.request.post(`${base}${route}`, { form });
      assert.equal((await post(adminPage, { confirm: "yes" })).status(), 403, `${route}: admin without CSRF`);
      assert.equal((await post(adminPage, { confirm: "yes", _csrf: "wrong" })).status(), 403, `${route}: wrong`);
      assert.equal((await post(page, { confirm: "yes" })).status(), 403, `${route}: viewer without CSRF`);
      const own = { confirm: "yes", _csrf: await csrfOf(page) };
      assert.equal((await post(page, own)).status(), 403, `${route}: a viewer with its own token`);
    }
    assert.equal(await runCount(), runsBefore, "no run was started");
    assert.equal((await agent("uia-a")).state, "online", "the agent was not drained or revoked");
    // Positive controls with the admin's own token: revoke without `confirm` is refused, drain goes through.
    const token = await csrfOf(adminPage);
    const unconfirmed = await adminPage.request.post(`${base}/agents/${a}/revoke`, { form: { _csrf: token } });
    assert.equal(unconfirmed.status(), 400);
    assert.equal((await agent("uia-a")).state, "online");
    const drained = await adminPage.request.post(`${base}/agents/${a}/drain`, { form: { _csrf: token } });
    assert.equal(drained.status(), 200, "redirected to the agents page");
    assert.equal((await agent("uia-a")).state, "draining");
    await admin.close();
    await viewer.close();
  });
});
