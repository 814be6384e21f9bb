// The runs list stays live: any event on GET /api/v1/runs/stream (a run created or its state
// changed) re-reads this page and swaps in its table body; when the stream answers 404 (a
// server without it) the page is re-read every 3 seconds instead.
const body = document.querySelector("#runs tbody");
let busy = false;

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const res = await fetch(location.href, { credentials: "same-origin", headers: { accept: "text/html" } });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.querySelector("#runs tbody");
    if (fresh && fresh.innerHTML !== body.innerHTML) body.innerHTML = fresh.innerHTML;
  } finally {
    busy = false;
  }
}

let opened = false;
let polling = null;
const es = new EventSource("/api/v1/runs/stream");
es.onopen = () => {
  opened = true;
};
for (const name of ["message", "run", "created", "state", "gap"]) es.addEventListener(name, () => void refresh());
es.onerror = () => {
  if (!opened && es.readyState === EventSource.CLOSED && polling === null) polling = setInterval(refresh, 3000);
};
