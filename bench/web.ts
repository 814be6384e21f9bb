// npm run bench -- web
// Live logs over SSE from a server process (its own process, so its RSS is its own):
//  - log_lag_p50_ms / log_lag_p99_ms: a log event's `at` (when the server committed it: the line
//    reached the server) -> the event parsed in an SSE client, over every live log event of 10
//    parsing clients (same machine, same clock);
//  - sse_clients: clients following the run at once (200: 10 parsing, the rest only reading);
//  - server_rss_growth_mb: the server's peak RSS while they follow one busy run (about 500 lines/s
//    of 100 bytes for 30 s) minus its RSS just before they connect (after a warm-up run);
//  - run_page_20k_lines_ms: then, with the clients gone, the run page (`/runs/:id`) of a finished
//    run whose one stage printed 20,000 lines of about 100 bytes, in Chromium, logged in through
//    the UI's token form: the median over 5 loads of navigation start -> all 20,000 lines in its
//    log view (opened with a click: a succeeded stage's log starts collapsed) and a keystroke in
//    the search box filtered them and was rendered (bench/lib/run-page.ts says what is timed).
// Prints one JSON line last.
import { readFileSync } from "node:fs";
import { OutageFarm, openSse, waitFor, type SseConnection } from "@dockyard/test";
import { quantile, round } from "./lib/stats";
import { measureRunPage, type RunPageLoad } from "./lib/run-page";

const CLIENTS = Number(process.env.BENCH_WEB_CLIENTS ?? 200);
const PARSING = 10;
const SECONDS = Number(process.env.BENCH_WEB_SECONDS ?? 30);
const PAGE_LINES = 20_000;
const PAGE_LOADS = 5;
const PAGE_TEXT = "of the finished stage, padded to about one hundred bytes like a real build log line";

const busy = (name: string, ticks: number) => `
name: ${name}
stages:
  busy:
    executor: shell
    command: 'sleep 3; i=0; while [ $i -lt ${ticks} ]; do j=0; while [ $j -lt 50 ]; do echo "line $i.$j of the busy stage, padded to about one hundred bytes like a real build log line"; j=$((j+1)); done; sleep 0.1; i=$((i+1)); done'
`;

// No API rate limit (on by default since the REST surface: 20/s, bursts of 40, per token): the
// 200 clients share one token and connect at once, and the bench measures the fan-out, not the limit.
// BENCH_WEB_PROFILE_DIR (diagnostics): the server writes a CPU profile there (bench/lib/cpu-profile.mjs), ended by a
// SIGTERM after the SSE part; the run page is then not measured.
const PROFILE_DIR = process.env.BENCH_WEB_PROFILE_DIR;
const profiler = new URL("./lib/cpu-profile.mjs", import.meta.url).pathname;
const profile: Record<string, string> = PROFILE_DIR
  ? { NODE_OPTIONS: `--import ${profiler}`, BENCH_CPU_PROFILE_DIR: PROFILE_DIR }
  : {};
const farm = new OutageFarm({ replicas: 1, env: { DOCKYARD_API_RATE_PER_S: "0", ...profile } });
const conns: SseConnection[] = [];
try {
  await farm.start();
  farm.spawnAgent("web-a", { executor: "shell", capacity: 2 });
  await farm.waitAgentsOnline(1);
  const server = farm.servers[0]!;
  const base = `http://${server.http}/api/v1`;
  const pid = server.child!.pid!;
  const rssMb = () => {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    if (kb === undefined) {
      const tail = readFileSync(server.logFile, "utf8").split("\n").slice(-30).join("\n");
      throw new Error(`the server (pid ${pid}) is gone; its log ends:\n${tail}`);
    }
    return Number(kb) / 1024;
  };
  // The server's CPU time (user + system) so far, in seconds: the work the fan-out costs, which the
  // machine's load does not change (the lag does).
  const cpuS = () => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const submit = async (yaml: string) =>
    (await farm.client.submitRun({ pipelineYaml: Buffer.from(yaml), source: "bench:web.yml" })).run!.id;
  const follow = async (runId: string, parse: boolean) => {
    let c = await openSse(`${base}/runs/${runId}/events`, { token: farm.apiToken, parse });
    // A loaded machine's database pool can keep a connect waiting past its timeout (503): reconnect, as
    // EventSource would (a second later), a few times.
    for (let retry = 0; c.status === 503 && retry < 5; retry++) {
      await new Promise((r) => setTimeout(r, 1000));
      c = await openSse(`${base}/runs/${runId}/events`, { token: farm.apiToken, parse });
    }
    if (c.status !== 200) throw new Error(`SSE answered ${c.status}: ${c.body}`);
    conns.push(c);
    return c;
  };

  // Warm-up: the SSE and log paths have run once before the baseline.
  const warm = await submit(busy("web-warm", 10));
  const w = await follow(warm, true);
  await waitFor(() => w.events.some((e) => e.event === "end"), { timeoutMs: 60_000, message: "the warm-up run" });
  w.close();
  conns.length = 0;
  await new Promise((r) => setTimeout(r, 2000));
  const baseline = rssMb();

  // From before the clients connect: their connections (and any replay) are part of the fan-out's cost.
  const cpuBefore = cpuS();
  const connectStart = Date.now();
  const runId = await submit(busy("web-busy", SECONDS * 10));
  const lags: number[] = [];
  let gaps = 0;
  let lines = 0;
  // 10 at once, while the stage is still in its first `sleep`: one after the other, on a loaded
  // machine, the last ones connected when the run was half over and replayed it first.
  const clients: SseConnection[] = [];
  const connect = async (i: number) => {
    const c = await follow(runId, i < PARSING);
    if (i >= PARSING) return c;
    const since = Date.now();
    c.onEvent = (e) => {
      const got = Date.now();
      if (e.event === "gap") gaps++;
      if (e.event !== "log") return;
      const d = JSON.parse(e.data) as { at: string; text: string };
      const at = Date.parse(d.at);
      if (at < since) return; // replayed, not live
      lags.push(got - at);
      if (i === 0) lines += d.text.split("\n").length - 1;
    };
    return c;
  };
  // 10 at a time: 200 at once wait for the database pool past its timeout (503).
  for (let i = 0; i < CLIENTS; i += 10)
    clients.push(...(await Promise.all(Array.from({ length: Math.min(10, CLIENTS - i) }, (_, k) => connect(i + k)))));
  const first = clients[0]!;
  const connectMs = Date.now() - connectStart;
  let peak = rssMb();
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 200);
  await waitFor(() => first.events.some((e) => e.event === "end"), {
    timeoutMs: (SECONDS + 120) * 1000,
    message: "the busy run to end on the first client",
  });
  clearInterval(sampler);
  const cpu = cpuS() - cpuBefore;
  const open = conns.filter((c) => c.bytes > 0).length;
  console.log(
    JSON.stringify({
      detail: "web",
      live_log_events: lags.length,
      lines_on_one_client: lines,
      gaps,
      clients_that_got_bytes: open,
      rss_baseline_mb: round(baseline),
      rss_peak_mb: round(peak),
      connect_ms: connectMs,
      server_cpu_s: round(cpu),
      // Per log event sent to one client: the run's log events (all of them reach client 0) times the clients.
      server_cpu_us_per_client_event: round(
        (cpu * 1e6) / (first.events.filter((e) => e.event === "log").length * CLIENTS),
      ),
      load_average: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    }),
  );
  for (const c of conns) c.close();
  conns.length = 0;
  if (PROFILE_DIR) {
    const exited = new Promise((r) => server.child!.once("exit", r));
    server.child!.kill("SIGTERM");
    await exited;
    console.log(JSON.stringify({ detail: "profile", dir: PROFILE_DIR }));
  } else await runPage();

  async function runPage(): Promise<void> {
    // The run page: a finished run, one stage, 20,000 lines.
    const bigRun = await submit(
      `name: web-page\nstages:\n  big:\n    executor: shell\n    command: "seq -f 'line %g ${PAGE_TEXT}' 1 ${PAGE_LINES}"\n`,
    );
    await waitFor(async () => (await farm.client.getRun({ runId: bigRun })).run!.state === "succeeded", {
      timeoutMs: 60_000,
      message: "the 20,000-line run to succeed",
    });
    const key = "7";
    const loads = await measureRunPage({
      base: `http://${server.http}`,
      token: farm.apiToken,
      runId: bigRun,
      stage: "big",
      loads: PAGE_LOADS,
      expect: {
        lines: PAGE_LINES,
        lastLine: `${PAGE_LINES}line ${PAGE_LINES} ${PAGE_TEXT}`,
        key,
        matches: Array.from({ length: PAGE_LINES }, (_, i) => String(i + 1)).filter((n) => n.includes(key)).length,
      },
    });
    const ms = (k: keyof RunPageLoad) => loads.map((l) => round(l[k]));
    console.log(
      JSON.stringify({
        detail: "run_page",
        loads: loads.length,
        shown_ms: ms("shown"),
        shown_painted_ms: ms("shownPainted"),
        key_ms: ms("key"),
        filtered_painted_ms: ms("filteredPainted"),
        wall_ms: ms("wallMs"),
        dom_content_loaded_ms: ms("dcl"),
        opened_ms: ms("opened"),
        log_request_ms: ms("logRequest"),
        log_first_byte_ms: ms("logResponse"),
        log_last_byte_ms: ms("logEnd"),
      }),
    );
    console.log(
      JSON.stringify({
        bench: "web",
        log_lag_p50_ms: round(quantile(lags, 0.5)),
        log_lag_p99_ms: round(quantile(lags, 0.99)),
        run_page_20k_lines_ms: round(quantile(ms("filteredPainted"), 0.5)),
        sse_clients: CLIENTS,
        server_rss_growth_mb: round(peak - baseline),
      }),
    );
  }
} finally {
  for (const c of conns) c.close();
  await farm.stop();
}
