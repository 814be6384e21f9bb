// The run page's live part: fills each stage's log (ANSI colours by ansi_up, line numbers),
// follows the run through the SSE endpoint (GET /api/v1/runs/:id/events) and, when that
// answers 404 (a server without it), by polling the JSON API; searches the loaded lines.
// Lines are appended in batches as HTML into blocks the browser lays out only when in view, so a
// 20,000-line log does not freeze the page; lines without escapes skip ansi_up.
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
    /** A prefetched first page (a promise), taken by the first loadLog. */
    prefetched: null,
    /** Every line's row, its lower-cased text (null: read it from the row) and the blocks holding them. */
    rows: [],
    texts: [],
    blocks: [],
  });
  details.addEventListener("toggle", () => {
    if (details.open) void loadLog(details.dataset.stage);
  });
}

const CHUNK_LINES = 5000;
// Lines sit in blocks of BLOCK_LINES, each `content-visibility: auto` (app.css): the browser lays out
// and paints only the blocks in view, so a 20,000-line log costs its HTML parse, not 20,000 rows of layout.
// Every line stays in the DOM (the browser's find, copying, a screen reader's log).
const BLOCK_LINES = 500;
const yieldToBrowser = () => new Promise((resolve) => setTimeout(resolve, 0));
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" };
const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);

// ansi_up only where it changes something: a line with an escape, or one after a colour left open
// (its state carries over lines). Other lines are escaped as ansi_up would escape them, much cheaper.
function lineHtml(ansi, line) {
  const plain =
    !line.includes("\x1b") &&
    ansi._buffer === "" &&
    ansi.fg === null &&
    ansi.bg === null &&
    !ansi.bold &&
    !ansi.faint &&
    !ansi.italic &&
    !ansi.underline;
  return plain ? escapeHtml(line) : ansi.ansi_to_html(line);
}

function newBlock(log) {
  const el = document.createElement("div");
  el.className = "block";
  log.box.append(el);
  const block = { el, first: log.rows.length };
  log.blocks.push(block);
  return block;
}

// Appends whole lines as HTML in chunks, yielding between them, so the page stays responsive.
async function appendText(log, text, final) {
  const parts = (log.partial + text).split("\n");
  log.partial = final ? "" : parts.pop();
  if (final && parts.at(-1) === "") parts.pop();
  const query = searchQuery();
  // Read layout once: reading it after every chunk would force a reflow of the whole log each time.
  const atBottom = log.box.scrollTop + log.box.clientHeight >= log.box.scrollHeight - 4;
  let sinceYield = 0;
  for (let i = 0; i < parts.length;) {
    const open = log.blocks.at(-1);
    const room = open ? BLOCK_LINES - (log.rows.length - open.first) : 0;
    const target = room > 0 ? open : newBlock(log);
    const n = Math.min(room > 0 ? room : BLOCK_LINES, parts.length - i);
    const from = log.rows.length;
    const html = [];
    for (let k = i; k < i + n; k++) {
      const line = parts[k];
      log.lineNo += 1;
      const hit = query && line.toLowerCase().includes(query) ? " hit" : "";
      html.push(
        `<div class="line${hit}"><span class="ln">${log.lineNo}</span><span class="tx">${lineHtml(log.ansi, line)}</span></div>`,
      );
      // The search reads these, not the DOM; a line with escapes is read back from its row when searched.
      log.texts[from + k - i] = line.includes("\x1b") ? null : line.toLowerCase();
    }
    target.el.insertAdjacentHTML("beforeend", html.join(""));
    const rows = target.el.children;
    for (let k = rows.length - n; k < rows.length; k++) log.rows.push(rows[k]);
    target.el.style.setProperty("--lines", String(log.rows.length - target.first));
    i += n;
    sinceYield += n;
    if (sinceYield >= CHUNK_LINES && i < parts.length) {
      sinceYield = 0;
      await yieldToBrowser();
    }
  }
  if (query) filterLog(log, query);
  if (atBottom) log.box.scrollTop = log.box.scrollHeight;
}

// The largest page the API gives (8 MiB): a finished 2 MB log comes in one round trip, not three.
const PAGE_BYTES = 8 * 1024 * 1024;
// A finished run's collapsed logs are fetched (not rendered) right after load, up to this many bytes in
// all, so opening one renders it without waiting for the network. Rendering waits for the click: 20,000
// rows in the page would slow everything that walks the DOM (a selector engine, find in page).
const PREFETCH_BYTES = 4 * 1024 * 1024;

/** One page of a stage's log from `log.from`; null when the API refused. */
async function fetchPage(stage, log, limit) {
  const from = log.from;
  const url = `/api/v1/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(stage)}/logs?from=${from}&limit=${limit}`;
  const res = await fetch(url, { credentials: "same-origin" });
  if (!res.ok) return null;
  return {
    from,
    attempt: res.headers.get("x-dockyard-attempt"),
    next: Number(res.headers.get("x-dockyard-next-from") ?? from),
    complete: res.headers.get("x-dockyard-complete") === "true",
    text: await res.text(),
  };
}

async function loadLog(stage) {
  const log = logs.get(stage);
  if (!log || log.busy || log.complete) return;
  log.busy = true;
  try {
    for (;;) {
      const pre = log.prefetched && (await log.prefetched);
      log.prefetched = null;
      const page = pre && pre.from === log.from ? pre : await fetchPage(stage, log, PAGE_BYTES);
      if (!page) return;
      if (log.attempt !== null && page.attempt !== log.attempt) {
        // A new attempt: its log starts over.
        log.box.replaceChildren();
        Object.assign(log, { from: 0, lineNo: 0, partial: "", attempt: page.attempt, rows: [], texts: [], blocks: [] });
        continue;
      }
      log.attempt = page.attempt;
      log.complete = page.complete;
      await appendText(log, page.text, log.complete);
      const moved = page.next !== log.from;
      log.from = page.next;
      if (log.complete) log.details.dataset.complete = "true";
      if (log.complete || !moved || page.text === "") return;
    }
  } finally {
    log.busy = false;
  }
}

async function prefetchLogs() {
  let budget = PREFETCH_BYTES;
  for (const [stage, log] of logs) {
    if (budget <= 0) return;
    if (log.details.open || log.busy || log.complete) continue;
    log.prefetched = fetchPage(stage, log, budget).catch(() => null);
    budget -= (await log.prefetched)?.text.length ?? 0;
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
// Marks the matching rows and hides each block without one; a block's placeholder height while out of
// view (app.css) is its matching lines', so the filtered log scrolls without jumps.
function filterLog(log, q) {
  let hits = 0;
  log.box.classList.toggle("filtering", q !== "");
  for (let b = 0; b < log.blocks.length; b++) {
    const end = b + 1 < log.blocks.length ? log.blocks[b + 1].first : log.rows.length;
    let inBlock = 0;
    for (let i = log.blocks[b].first; i < end; i++) {
      const text = log.texts[i] ?? (log.texts[i] = log.rows[i].lastChild.textContent.toLowerCase());
      const hit = q !== "" && text.includes(q);
      // Only rows whose state changes are touched: a class set again would still cost a style pass.
      if (log.rows[i].classList.contains("hit") !== hit) log.rows[i].classList.toggle("hit", hit);
      if (hit) inBlock++;
    }
    const block = log.blocks[b].el;
    block.classList.toggle("nohit", q !== "" && inBlock === 0);
    block.style.setProperty("--hits", String(inBlock));
    hits += inBlock;
  }
  return hits;
}

function search() {
  const q = searchQuery();
  let hits = 0;
  for (const log of logs.values()) hits += filterLog(log, q);
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
if (TERMINAL.includes(initialState)) void prefetchLogs();
follow();
