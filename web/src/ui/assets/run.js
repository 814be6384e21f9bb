// The run page's live part: fills each stage's log (ANSI colours by ansi_up, line numbers),
// follows the run through the SSE endpoint (GET /api/v1/runs/:id/events) and, when that
// answers 404 (a server without it), by polling the JSON API; searches the loaded lines.
// Lines are appended in batches as DOM fragments, so a 20,000-line log does not freeze the page.
import { AnsiUp } from "/ui/assets/ansi_up.js";

const root = document.getElementById("run");
const runId = root.dataset.run;
const TERMINAL = ["succeeded", "failed", "errored", "canceled"];
const initialState = root.dataset.state;
const logs = new Map();

for (const details of document.querySelectorAll("details.log")) {
  const ansi = new AnsiUp();
  ansi.use_classes = false;
  logs.set(details.dataset.stage, {
    details,
    box: details.querySelector(".log-lines"),
    ansi,
    from: 0,
    attempt: null,
    lineNo: 0,
    partial: "",
    complete: false,
    busy: false,
  });
  details.addEventListener("toggle", () => {
    if (details.open) void loadLog(details.dataset.stage);
  });
}

const CHUNK_LINES = 5000;
const yieldToBrowser = () => new Promise((resolve) => setTimeout(resolve, 0));

// Appends whole lines as HTML in chunks, yielding between them, so the page stays responsive.
async function appendText(log, text, final) {
  const parts = (log.partial + text).split("\n");
  log.partial = final ? "" : parts.pop();
  if (final && parts.at(-1) === "") parts.pop();
  const query = searchQuery();
  // Read layout once: reading it after every chunk would force a reflow of the whole log each time.
  const atBottom = log.box.scrollTop + log.box.clientHeight >= log.box.scrollHeight - 4;
  for (let i = 0; i < parts.length; i += CHUNK_LINES) {
    const html = [];
    for (const line of parts.slice(i, i + CHUNK_LINES)) {
      log.lineNo += 1;
      const hit = query && line.toLowerCase().includes(query) ? " hit" : "";
      html.push(
        `<div class="line${hit}"><span class="ln">${log.lineNo}</span><span class="tx">${log.ansi.ansi_to_html(line)}</span></div>`,
      );
    }
    log.box.insertAdjacentHTML("beforeend", html.join(""));
    if (i + CHUNK_LINES < parts.length) await yieldToBrowser();
  }
  if (atBottom) log.box.scrollTop = log.box.scrollHeight;
}

async function loadLog(stage) {
  const log = logs.get(stage);
  if (!log || log.busy || log.complete) return;
  log.busy = true;
  try {
    for (;;) {
      const url = `/api/v1/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(stage)}/logs?from=${log.from}`;
      const res = await fetch(url, { credentials: "same-origin" });
      if (!res.ok) return;
      const attempt = res.headers.get("x-dockyard-attempt");
      if (log.attempt !== null && attempt !== log.attempt) {
        // A new attempt: its log starts over.
        log.box.replaceChildren();
        Object.assign(log, { from: 0, lineNo: 0, partial: "", attempt });
        continue;
      }
      log.attempt = attempt;
      const text = await res.text();
      const next = Number(res.headers.get("x-dockyard-next-from") ?? log.from);
      log.complete = res.headers.get("x-dockyard-complete") === "true";
      await appendText(log, text, log.complete);
      const moved = next !== log.from;
      log.from = next;
      if (log.complete) log.details.dataset.complete = "true";
      if (log.complete || !moved || text === "") return;
    }
  } finally {
    log.busy = false;
  }
}

function setBadge(el, state) {
  if (!el || el.dataset.state === state) return;
  el.dataset.state = state;
  el.textContent = state;
  el.className = `state state-${state}`;
}

async function refreshRun() {
  const res = await fetch(`/api/v1/runs/${encodeURIComponent(runId)}`, { credentials: "same-origin" });
  if (!res.ok) return null;
  const { run } = await res.json();
  setBadge(document.getElementById("run-state"), run.state);
  let reload = TERMINAL.includes(run.state) && !TERMINAL.includes(initialState);
  for (const s of run.stages) {
    for (const el of document.querySelectorAll(
      `[data-stage="${CSS.escape(s.name)}"] .state, #stage-h-${CSS.escape(s.name)} .state`,
    ))
      setBadge(el, s.state);
    const waiting =
      s.type === "approval" && (s.reason ?? "").startsWith("waiting for approval") && !TERMINAL.includes(s.state);
    const shown = document.getElementById(`stage-${s.name}`)?.querySelector(".reason")?.textContent ?? "";
    if (waiting && !shown.startsWith("waiting for approval")) reload = true;
  }
  if (reload) {
    await Promise.all([...logs.keys()].map((stage) => loadLog(stage)));
    location.reload();
  }
  return run;
}

let ticking = false;
let again = false;
// One fetch round at a time; an event during a round asks for one more round after it, so
// the last event of a burst is never lost and a burst costs two rounds, not one per event.
async function tick() {
  if (ticking) {
    again = true;
    return;
  }
  ticking = true;
  try {
    do {
      again = false;
      await refreshRun();
      await Promise.all([...logs.entries()].filter(([, l]) => l.details.open).map(([stage]) => loadLog(stage)));
    } while (again);
  } finally {
    ticking = false;
  }
}

function follow() {
  if (TERMINAL.includes(initialState)) return;
  let opened = false;
  let polling = null;
  const es = new EventSource(`/api/v1/runs/${encodeURIComponent(runId)}/events`);
  const wake = () => void tick();
  es.onopen = () => {
    opened = true;
  };
  for (const name of ["message", "run", "stage", "log", "state", "gap"]) es.addEventListener(name, wake);
  es.onerror = () => {
    // Never opened and closed: the endpoint is not there (404) or refused; poll the JSON API instead.
    if (!opened && es.readyState === EventSource.CLOSED && polling === null) polling = setInterval(wake, 1000);
  };
  // A slow safety tick even with SSE, in case an event shape is not one we know.
  setInterval(wake, 5000);
}

function searchQuery() {
  return (document.getElementById("log-search")?.value ?? "").trim().toLowerCase();
}

let searchTimer = null;
function search() {
  const q = searchQuery();
  let hits = 0;
  for (const log of logs.values()) {
    log.box.classList.toggle("filtering", q !== "");
    for (const row of log.box.children) {
      const hit = q !== "" && row.lastChild.textContent.toLowerCase().includes(q);
      row.classList.toggle("hit", hit);
      if (hit) hits++;
    }
  }
  document.getElementById("search-count").textContent = q === "" ? "" : `${hits} matching lines`;
}
document.getElementById("log-search")?.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(search, 150);
});
document.addEventListener("keydown", (e) => {
  if (e.key === "/" && !["INPUT", "TEXTAREA"].includes(document.activeElement?.tagName ?? "")) {
    e.preventDefault();
    document.getElementById("log-search")?.focus();
  }
});

for (const [stage, log] of logs) if (log.details.open) void loadLog(stage);
follow();
