// npm run bench -- build
// Image builds of examples/webapp through Dockyard: a local farm (server in this
// process, one docker agent process on the test engine, the private registry
// configured on the server with its password in the secret store), the example's
// directory uploaded as the run's source, as `dockyard run` does.
//  - cold: the example's `image` stage alone (two-stage Dockerfile, pushed), after
//    this bench's images are removed and the build cache records of the example's
//    RUN steps (and their children) are pruned; the base images (dockyard/build:1,
//    dockyard/static:1) stay, as on any agent; the copy of the example it builds holds
//    one more file with a unique stamp, so no earlier build of the same source exists;
//  - warm: the same after a one-line change to src/webapp.c (in a copy);
//  - then the whole examples/webapp/dockyard.yml on the changed copy (naive build,
//    tests image, environment, route tests, sizes): it must succeed, and its build
//    stages' size_bytes give naive_mb and two_stage_mb.
// Each run is timed from packing the source (the CLI's part) to its terminal event
// on WatchRun. Tags are the example's with `examples/` → `bench-build/`, so what this
// bench removes is its own. Prints one JSON line last. BENCH_KEEP=1 keeps the images;
// BENCH_LOGS=1 prints the cold and warm build logs (the builder's steps and times).
import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { dockerFromEnv, packContext } from "@dockyard/agent";
import { startFarm, waitFor, logsByStage, runEvents, testRegistry, DOCKER_HOST, REPO_ROOT } from "@dockyard/test";

const EXAMPLE = path.join(REPO_ROOT, "examples/webapp");
const DOCKERFILES = ["Dockerfile", "Dockerfile.naive", "Dockerfile.tests"];
const OWN_TAG = /^(127\.0\.0\.1:5000\/)?bench-build\/webapp(-naive|-tests)?:/;
const TERMINAL = new Set(["succeeded", "failed", "errored", "canceled"]);

type Docker = ReturnType<typeof dockerFromEnv>;
type Farm = Awaited<ReturnType<typeof startFarm>>;
type Run = NonNullable<Awaited<ReturnType<Farm["client"]["getRun"]>>["run"]>;
interface CacheRecord {
  ID: string;
  Parent?: string;
  Description?: string;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const log = (...a: unknown[]) => console.error("bench build:", ...a);

/** The build cache records' descriptions of the example's RUN steps ("mount / from exec /bin/sh -c CMD"). */
async function ownExecDescriptions(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const f of DOCKERFILES) {
    const text = (await readFile(path.join(EXAMPLE, f), "utf8")).replace(/\\\n/g, " ");
    for (const line of text.split("\n")) {
      const m = /^RUN\s+(.*)$/.exec(line.trim());
      if (m) out.add(`mount / from exec /bin/sh -c ${m[1]!.replace(/^(--\S+\s+)*/, "")}`);
    }
  }
  return out;
}

/** POST /build/prune for one record (dockerode's pruneBuilder drops its options). */
function pruneRecord(docker: Docker, id: string): Promise<void> {
  const options = { all: true, filters: JSON.stringify({ id: [id] }) };
  return new Promise((ok, ko) =>
    docker.modem.dial(
      { path: "/build/prune?", method: "POST", options, statusCodes: { 200: true, 500: "server error" } } as never,
      (err: unknown) => (err ? ko(err as Error) : ok()),
    ),
  );
}

/**
 * Removes this bench's images and prunes the cache records of the example's RUN steps and
 * every record built on them (children first: a record with children is kept by the engine).
 * Other images and other builds' cache are left alone. Returns how many records were pruned.
 */
async function coldStart(docker: Docker): Promise<number> {
  for (const img of await docker.listImages())
    for (const tag of img.RepoTags ?? []) if (OWN_TAG.test(tag)) await docker.getImage(tag).remove({ force: true });
  const mine = await ownExecDescriptions();
  let pruned = 0;
  for (let pass = 0; pass < 10; pass++) {
    const records = ((await docker.df()) as { BuildCache?: CacheRecord[] }).BuildCache ?? [];
    const own = new Set(records.filter((r) => mine.has(r.Description ?? "")).map((r) => r.ID));
    for (let grew = true; grew;) {
      grew = false;
      for (const r of records)
        if (r.Parent && own.has(r.Parent) && !own.has(r.ID)) {
          own.add(r.ID);
          grew = true;
        }
    }
    if (own.size === 0) return pruned;
    const parents = new Set(records.map((r) => r.Parent));
    for (const id of own) if (!parents.has(id)) await pruneRecord(docker, id); // leaves this pass
    pruned += [...own].filter((id) => !parents.has(id)).length;
  }
  throw new Error("the example's build cache records are still there after 10 prune passes");
}

async function tarOf(dir: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of packContext(dir)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Packs `dir`, submits `yaml` with it, follows the run to its end; seconds and the run. */
async function timedRun(
  farm: Farm,
  yaml: string,
  dir: string,
): Promise<{ s: number; run: Run; logs: Map<string, string> }> {
  const t0 = performance.now();
  const sourceTar = await tarOf(dir);
  const { run } = await farm.client.submitRun({ pipelineYaml: Buffer.from(yaml), source: "bench", sourceTar });
  const call = farm.client.watchRun({ runId: run!.id, afterSeq: 0n, follow: true, stage: "", attempt: 0 });
  call.on("error", () => undefined); // CANCELLED after the cancel below
  for await (const ev of call as AsyncIterable<{ body: { case?: string; value?: { state?: string } } }>)
    if (ev.body.case === "run" && TERMINAL.has(ev.body.value!.state!)) break;
  const s = (performance.now() - t0) / 1000;
  call.cancel();
  const ended = (await farm.client.getRun({ runId: run!.id })).run!;
  return { s, run: ended, logs: logsByStage(await runEvents(farm.client, ended.id)) };
}

function mustSucceed(what: string, r: { run: Run; logs: Map<string, string> }): void {
  if (r.run.state === "succeeded") return;
  for (const [stage, text] of r.logs) console.error(`--- ${what}: stage ${stage}\n${text.slice(-4000)}`);
  throw new Error(`${what}: run ${r.run.id} ended ${r.run.state}`);
}

/** The example's pipeline with its tags moved to bench-build/, and its `image` stage alone. */
async function pipelines(): Promise<{ full: string; buildOnly: string }> {
  const full = (await readFile(path.join(EXAMPLE, "dockyard.yml"), "utf8")).replace(
    /"examples\/webapp/g,
    '"bench-build/webapp',
  );
  const lines = full.split("\n");
  const start = lines.findIndex((l) => l === "  image:");
  let end = start + 1;
  while (end < lines.length && /^( {4}|\s*$)/.test(lines[end]!)) end++;
  const image = lines.slice(start, end).join("\n");
  if (start < 0 || !/type: build/.test(image))
    throw new Error("examples/webapp/dockyard.yml has no `image:` build stage");
  const name = /^name: .*$/m.exec(full)![0];
  return { full, buildOnly: `${name}\nstages:\n${image}\n` };
}

async function main() {
  const docker = dockerFromEnv({ DOCKER_HOST });
  // dockyard/build:1 and dockyard/static:1 (ops/images; a content-hash check when present).
  execFileSync("node", ["--import", "tsx", path.join(REPO_ROOT, "ops/images/build-images.ts")], {
    cwd: REPO_ROOT,
    env: { ...process.env, DOCKER_HOST },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const registry = await testRegistry().catch(() => {
    execFileSync("bash", [path.join(REPO_ROOT, "scripts/registry/start-registry.sh")], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    return testRegistry();
  });
  const { full, buildOnly } = await pipelines();
  const tmp = await mkdtemp(path.join(os.tmpdir(), "dockyard-bench-build-"));
  const dir = path.join(tmp, "webapp");
  await cp(EXAMPLE, dir, {
    recursive: true,
    filter: (src) => path.relative(EXAMPLE, src).split(path.sep)[0] !== "build",
  });
  // A checkout no build has seen: without it the final COPY's cache key (the same source and
  // VERSION=1 as in the last bench) would still match, and BuildKit then reports every earlier
  // step CACHED without needing their (pruned) results.
  await writeFile(path.join(dir, ".bench-checkout"), `${new Date().toISOString()} ${process.pid}\n`);

  const farm = await startFarm({
    env: {
      DOCKYARD_REGISTRY: registry.address,
      DOCKYARD_REGISTRY_USERNAME: registry.username,
      DOCKYARD_REGISTRY_PASSWORD_SECRET: "registry-password",
      DOCKYARD_HEARTBEAT_INTERVAL_MS: "3000",
      DOCKYARD_SCHEDULER_INTERVAL_MS: "500",
    },
  });
  await farm.client.setSecret({ name: "registry-password", value: Buffer.from(registry.password) });
  const agent = farm.spawnAgent({
    name: "bench-build",
    executor: "docker",
    capacity: 2,
    logLevel: process.env.BENCH_AGENT_LOG ?? "warn",
  });
  process.on("exit", () => agent.child.kill("SIGKILL"));
  await waitFor(async () => (await farm.client.listAgents({})).agents.some((a) => a.state === "online"), {
    message: "the docker agent online",
    timeoutMs: 30_000,
  });

  const pruned = await coldStart(docker);
  log(`removed this bench's images, pruned ${pruned} build cache records of the example's steps`);
  const cold = await timedRun(farm, buildOnly, dir);
  mustSucceed("cold build", cold);
  const coldLog = cold.logs.get("image") ?? "";
  if (/CACHED \[(deps|build) \d+\/\d+\] RUN/.test(coldLog))
    throw new Error(`the cold build reused cached steps:\n${coldLog}`);
  log(`cold ${round(cold.s)} s`);

  await appendFile(path.join(dir, "src/webapp.c"), `/* one-line change ${new Date().toISOString()} */\n`);
  const warm = await timedRun(farm, buildOnly, dir);
  mustSucceed("warm build", warm);
  const warmLog = warm.logs.get("image") ?? "";
  if (!/CACHED \[deps \d+\/\d+\] RUN/.test(warmLog))
    throw new Error(`the warm build did not reuse the dependency step:\n${warmLog}`);
  log(`warm ${round(warm.s)} s (dependency step CACHED, app step rebuilt)`);
  if (process.env.BENCH_LOGS)
    for (const [what, text] of [
      ["cold", coldLog],
      ["warm", warmLog],
    ])
      console.error(`--- ${what} build log\n${text}`);

  const e2e = await timedRun(farm, full, dir);
  mustSucceed("examples/webapp/dockyard.yml", e2e);
  const stage = (n: string) => e2e.run.stages.find((s) => s.name === n);
  const routes = stage("routes")?.outputs?.values ?? {};
  if (routes.failed !== "0" || !(Number(routes.passed) > 0)) throw new Error(`route tests: ${JSON.stringify(routes)}`);
  const mb = (n: string) => round(Number(stage(n)?.outputs?.values.size_bytes) / 1e6);
  log(
    `examples/webapp/dockyard.yml succeeded in ${round(e2e.s)} s; routes ${routes.passed} passed, ${routes.failed} failed`,
  );
  log((e2e.logs.get("sizes") ?? "").trim());

  agent.child.kill("SIGTERM");
  await agent.exited;
  await farm.stop();
  if (!process.env.BENCH_KEEP)
    for (const img of await docker.listImages())
      for (const tag of img.RepoTags ?? []) if (OWN_TAG.test(tag)) await docker.getImage(tag).remove({ force: true });
  await rm(tmp, { recursive: true, force: true });

  const result = {
    bench: "build",
    cold_s: round(cold.s),
    warm_s: round(warm.s),
    warm_ratio: round(warm.s / cold.s, 3),
    naive_mb: mb("naive"),
    two_stage_mb: mb("image"),
  };
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
