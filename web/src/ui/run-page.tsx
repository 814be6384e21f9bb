/** @jsxImportSource hono/jsx */
// The run page: the stage graph (columns by depth in the DAG), each stage's attempts,
// reasons and outputs, its log (filled and followed by /ui/assets/run.js), and the actions
// the caller's roles allow.
import type { RunView, StageView } from "../types";
import { TERMINAL_RUN_STATES, TERMINAL_STAGE_STATES } from "../states";
import { ActionForm, between, duration, Page, State, time, type PageContext } from "./layout";

/** Depth of each stage: 0 without needs, else one more than its deepest need. */
export function depths(stages: StageView[]): Map<string, number> {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const depth = new Map<string, number>();
  const visit = (name: string, seen: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0; // a cycle cannot be submitted; stay finite anyway
    seen.add(name);
    const needs = byName.get(name)?.needs ?? [];
    const d = needs.length === 0 ? 0 : 1 + Math.max(...needs.map((n) => visit(n, seen)));
    depth.set(name, d);
    return d;
  };
  for (const s of stages) visit(s.name, new Set());
  return depth;
}

export function waitsForDecision(s: StageView): boolean {
  return (
    s.type === "approval" &&
    !(TERMINAL_STAGE_STATES as readonly string[]).includes(s.state) &&
    (s.reason ?? "").startsWith("waiting for approval")
  );
}

function Graph(props: { run: RunView }) {
  const d = depths(props.run.stages);
  const columns: StageView[][] = [];
  for (const s of props.run.stages) (columns[d.get(s.name) ?? 0] ??= []).push(s);
  return (
    <section aria-labelledby="graph-h">
      <h2 id="graph-h">Stage graph</h2>
      <ol class="graph">
        {columns.map((col, i) => (
          <li class="column">
            <span class="visually-hidden">{`Step ${i + 1}`}</span>
            <ul>
              {col.map((s) => (
                <li class={`node node-${s.state}`} data-stage={s.name}>
                  <a href={`#stage-${s.name}`}>{s.name}</a> <State state={s.state} />
                  <span class="muted">
                    {" "}
                    {s.type} · {duration(between(s.startedAt, s.finishedAt))}
                  </span>
                  {s.needs.length > 0 ? <span class="needs">after {s.needs.join(", ")}</span> : null}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </section>
  );
}

function Outputs(props: { stage: StageView }) {
  const o = props.stage.outputs;
  if (!o) return null;
  const values = Object.entries(o.values);
  return (
    <div class="outputs">
      <h4>Outputs</h4>
      {o.summary ? <p>{o.summary}</p> : null}
      {o.image ? (
        <p>
          Image <code>{o.image.ref}</code> {(o.image.sizeBytes / 1e6).toFixed(1)} MB, {o.image.layers} layers
        </p>
      ) : null}
      {o.tests ? (
        <p>
          Tests: {o.tests.passed} passed, {o.tests.failed} failed, {o.tests.skipped} skipped, {o.tests.errors} errors
        </p>
      ) : null}
      {values.length > 0 ? (
        <dl>
          {values.map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd>
                <code>{v}</code>
              </dd>
            </>
          ))}
        </dl>
      ) : null}
    </div>
  );
}

function Stage(props: { run: RunView; stage: StageView; ctx: PageContext }) {
  const { run, stage: s, ctx } = props;
  // A finished run opens only the logs worth reading first; a live one shows them all.
  const finished = (TERMINAL_RUN_STATES as readonly string[]).includes(run.state);
  const decide = waitsForDecision(s) && ctx.can("POST /runs/:id/stages/:stage/approve");
  return (
    <section class="stage" id={`stage-${s.name}`} aria-labelledby={`stage-h-${s.name}`}>
      <h3 id={`stage-h-${s.name}`}>
        {s.name} <State state={s.state} />
      </h3>
      {s.reason ? <p class="reason">{s.reason}</p> : null}
      {decide ? (
        <div class="decide">
          <ActionForm action={`/runs/${run.id}/stages/${s.name}/approve`} csrf={ctx.csrf} label={`Approve ${s.name}`}>
            <label>
              Comment <input name="comment" maxlength={1000} />
            </label>
          </ActionForm>
          <ActionForm
            action={`/runs/${run.id}/stages/${s.name}/reject`}
            csrf={ctx.csrf}
            label={`Reject ${s.name}`}
            danger
          />
        </div>
      ) : null}
      {s.attemptHistory.length > 0 ? (
        <div class="scroll" tabindex={0} role="region" aria-label={`Attempts of ${s.name}`}>
          <table>
            <caption>Attempts of {s.name}</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">State</th>
                <th scope="col">Agent</th>
                <th scope="col">Started</th>
                <th scope="col">Took</th>
                <th scope="col">Exit</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {s.attemptHistory.map((a) => (
                <tr>
                  <td>{a.number}</td>
                  <td>
                    <State state={a.state} />
                  </td>
                  <td>{a.agentName ?? "server"}</td>
                  <td>{time(a.startedAt)}</td>
                  <td>{duration(between(a.startedAt, a.finishedAt))}</td>
                  <td>{a.exitCode ?? "–"}</td>
                  <td>{a.reason ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Outputs stage={s} />
      {s.type === "approval" ? null : (
        <details
          class="log"
          data-stage={s.name}
          open={!finished || !["succeeded", "skipped", "canceled"].includes(s.state)}
        >
          <summary>Log of {s.name}</summary>
          <div class="log-lines" role="log" aria-label={`Log of ${s.name}`} tabindex={0}></div>
        </details>
      )}
    </section>
  );
}

export function RunPage(props: { run: RunView; ctx: PageContext }) {
  const { run, ctx } = props;
  const finished = (TERMINAL_RUN_STATES as readonly string[]).includes(run.state);
  return (
    <Page title={`Run ${run.name}`} ctx={ctx} scripts={["/ui/assets/run.js"]}>
      <div id="run" data-run={run.id} data-state={run.state}>
        <p class="summary">
          State <State state={run.state} id="run-state" /> · started by {run.startedBy ?? "–"} · source{" "}
          {run.source ?? "–"} · created {time(run.createdAt)} · took {duration(run.durationMs)}
        </p>
        <div class="actions">
          {!finished && ctx.can("POST /runs/:id/cancel") ? (
            <ActionForm action={`/runs/${run.id}/cancel`} csrf={ctx.csrf} label="Cancel run" danger />
          ) : null}
          {finished && ctx.can("POST /runs/:id/rerun") ? (
            <ActionForm action={`/runs/${run.id}/rerun`} csrf={ctx.csrf} label="Re-run" />
          ) : null}
          {finished && run.stages.some((s) => s.state !== "succeeded") && ctx.can("POST /runs/:id/rerun-failed") ? (
            <ActionForm action={`/runs/${run.id}/rerun-failed`} csrf={ctx.csrf} label="Re-run failed stages" />
          ) : null}
        </div>
        <Graph run={run} />
        <div class="search">
          <label for="log-search">Search the logs</label>{" "}
          <input id="log-search" type="search" placeholder="text to find" />{" "}
          <span id="search-count" aria-live="polite"></span>
        </div>
        {run.stages.map((s) => (
          <Stage run={run} stage={s} ctx={ctx} />
        ))}
      </div>
    </Page>
  );
}
