/** @jsxImportSource hono/jsx */
// The page frame every UI page shares: a skip link, the navigation (only what the user's
// roles may open), the logout form (with the CSRF token), and the page's own content.
import type { Child } from "hono/jsx";
import type { WebCaller } from "../types";

export interface PageContext {
  caller: WebCaller;
  csrf: string;
  /** Whether the caller's roles open the route `METHOD /path` (the access table decides). */
  can: (route: string) => boolean;
}

const NAV: [string, string, string][] = [
  ["/", "Runs", "GET /"],
  ["/approvals", "Approvals", "GET /approvals"],
  ["/agents", "Agents", "GET /agents"],
  ["/services", "Services", "GET /services"],
  ["/environments", "Environments", "GET /environments"],
  ["/alerts", "Alerts", "GET /alerts"],
  ["/audit", "Audit log", "GET /audit"],
];

export function Page(props: { title: string; ctx: PageContext | null; children?: Child; scripts?: string[] }) {
  const { ctx } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Dockyard`}</title>
        <link rel="stylesheet" href="/ui/assets/app.css" />
        {ctx ? <meta name="csrf-token" content={ctx.csrf} /> : null}
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <span class="brand">Dockyard</span>
          {ctx ? (
            <nav aria-label="Main">
              <ul>
                {NAV.filter(([, , route]) => ctx.can(route)).map(([href, label]) => (
                  <li>
                    <a href={href}>{label}</a>
                  </li>
                ))}
              </ul>
            </nav>
          ) : null}
          {ctx ? (
            <form method="post" action="/logout" class="logout">
              <input type="hidden" name="_csrf" value={ctx.csrf} />
              <span class="who">
                {ctx.caller.user} ({ctx.caller.roles.join(", ")})
              </span>
              <button type="submit">Log out</button>
            </form>
          ) : null}
        </header>
        <main id="main">
          <h1>{props.title}</h1>
          {props.children}
        </main>
        {(props.scripts ?? []).map((src) => (
          <script type="module" src={src}></script>
        ))}
      </body>
    </html>
  );
}

/** A state as a badge; the class colours it, the text says it (colour is never the only cue). */
export function State(props: { state: string; id?: string }) {
  return (
    <span class={`state state-${props.state}`} id={props.id} data-state={props.state}>
      {props.state}
    </span>
  );
}

/** A form that POSTs to `action` with the CSRF token: one button. */
export function ActionForm(props: { action: string; csrf: string; label: string; danger?: boolean; children?: Child }) {
  return (
    <form method="post" action={props.action} class="action">
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.children}
      <button type="submit" class={props.danger ? "danger" : ""}>
        {props.label}
      </button>
    </form>
  );
}

export function time(iso: string | null): string {
  return iso === null ? "–" : iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function duration(ms: number | null): string {
  if (ms === null) return "–";
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 100) / 10;
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} m ${Math.round(s % 60)} s`;
}

export function between(a: string | null, b: string | null): number | null {
  if (a === null) return null;
  return (b === null ? Date.now() : Date.parse(b)) - Date.parse(a);
}
