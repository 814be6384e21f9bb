/** @jsxImportSource hono/jsx */
// The runs list (with the form that starts a run, for operators) and the approvals inbox.
import type { RunView } from "../types";
import { RUN_STATES } from "../states";
import { ActionForm, duration, Page, State, time, type PageContext } from "./layout";
import { waitsForDecision } from "./run-page";

export function RunsPage(props: { runs: RunView[]; state: string | undefined; ctx: PageContext }) {
  const { runs, ctx } = props;
  return (
    <Page title="Runs" ctx={ctx} scripts={["/ui/assets/runs.js"]}>
      <form method="get" action="/" class="filters">
        <label for="state">State</label>{" "}
        <select id="state" name="state">
          <option value="">any</option>
          {RUN_STATES.map((s) => (
            <option value={s} selected={s === props.state}>
              {s}
            </option>
          ))}
        </select>{" "}
        <button type="submit">Filter</button>
      </form>
      <div class="scroll" tabindex={0} role="region" aria-label="Runs">
        <table id="runs">
          <caption>Newest first</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">State</th>
              <th scope="col">Source</th>
              <th scope="col">Started by</th>
              <th scope="col">Created</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr>
                <td>
                  <a href={`/runs/${r.id}`}>{r.name}</a>
                </td>
                <td>
                  <State state={r.state} />
                </td>
                <td>{r.source ?? "–"}</td>
                <td>{r.startedBy ?? "–"}</td>
                <td>{time(r.createdAt)}</td>
                <td>{duration(r.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {runs.length === 0 ? <p>No runs yet.</p> : null}
      {ctx.can("POST /runs") ? (
        <details class="start">
          <summary>Start a run</summary>
          <ActionForm action="/runs" csrf={ctx.csrf} label="Start run">
            <label for="pipeline">Pipeline file (YAML)</label>
            <textarea id="pipeline" name="pipeline" rows={10} required></textarea>
          </ActionForm>
        </details>
      ) : null}
    </Page>
  );
}

export function ApprovalsPage(props: { runs: RunView[]; ctx: PageContext }) {
  const { ctx } = props;
  const waiting = props.runs.flatMap((run) => run.stages.filter(waitsForDecision).map((stage) => ({ run, stage })));
  const canDecide = ctx.can("POST /runs/:id/stages/:stage/approve");
  return (
    <Page title="Approvals" ctx={ctx}>
      {waiting.length === 0 ? <p>Nothing waits for a decision.</p> : null}
      <ul class="cards">
        {waiting.map(({ run, stage }) => (
          <li class="card">
            <h2>
              <a href={`/runs/${run.id}#stage-${stage.name}`}>
                {run.name} · {stage.name}
              </a>
            </h2>
            <p>{stage.reason}</p>
            <p class="muted">
              started by {run.startedBy ?? "–"} at {time(run.createdAt)}
            </p>
            {canDecide ? (
              <div class="decide">
                <ActionForm
                  action={`/runs/${run.id}/stages/${stage.name}/approve`}
                  csrf={ctx.csrf}
                  label={`Approve ${run.name} ${stage.name}`}
                />
                <ActionForm
                  action={`/runs/${run.id}/stages/${stage.name}/reject`}
                  csrf={ctx.csrf}
                  label={`Reject ${run.name} ${stage.name}`}
                  danger
                />
              </div>
            ) : null}
          </li>
        ))}
      </ul>
    </Page>
  );
}
