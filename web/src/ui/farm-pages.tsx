/** @jsxImportSource hono/jsx */
// The farm's pages: agents, services (revision per host, history, Roll back), environments,
// alerts and the audit log. Tables; the actions are Roll back (operators) and an agent's Drain/Undrain
// and Revoke (admins).
import type { AgentView, AuditEntryView, EnvironmentView } from "../types";
import type { ServiceHistoryView, ServiceView } from "../service-types";
import type { AlertView } from "../alert-types";
import type { Child } from "hono/jsx";
import { ActionForm, Page, State, time, type PageContext } from "./layout";

const kv = (r: Record<string, string>) =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ") || "–";

function Table(props: { caption: string; head: string[]; rows: Child[][] }) {
  return (
    // Focusable, so a keyboard can scroll a wide table sideways.
    <div class="scroll" tabindex={0} role="region" aria-label={props.caption}>
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.head.map((h) => (
              <th scope="col">{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr>
              {row.map((cell) => (
                <td>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Drain or Undrain, and Revoke (behind a required checkbox), for the roles the table allows. */
function AgentActions(props: { agent: AgentView; ctx: PageContext }) {
  const { agent: a, ctx } = props;
  if (a.state === "revoked") return <>–</>;
  const drained = a.drainRequestedAt !== null;
  const verb = drained ? "undrain" : "drain";
  return (
    <div class="agent-actions">
      {ctx.can(`POST /agents/:id/${verb}`) ? (
        <ActionForm
          action={`/agents/${a.id}/${verb}`}
          csrf={ctx.csrf}
          label={`${drained ? "Undrain" : "Drain"} ${a.name}`}
        />
      ) : null}
      {ctx.can("POST /agents/:id/revoke") ? (
        <ActionForm action={`/agents/${a.id}/revoke`} csrf={ctx.csrf} label={`Revoke ${a.name}`} danger>
          <label>
            <input type="checkbox" name="confirm" value="yes" required /> Yes, revoke {a.name} for good
          </label>
        </ActionForm>
      ) : null}
    </div>
  );
}

export function AgentsPage(props: { agents: AgentView[]; ctx: PageContext }) {
  const act = props.ctx.can("POST /agents/:id/drain") || props.ctx.can("POST /agents/:id/revoke");
  return (
    <Page title="Agents" ctx={props.ctx}>
      <Table
        caption="Registered agents"
        head={[
          "Name",
          "State",
          "Host",
          "Slots",
          "Labels",
          "Capabilities",
          "Last heartbeat",
          "Version",
          ...(act ? ["Actions"] : []),
        ]}
        rows={props.agents.map((a) => [
          a.name,
          <State state={a.state} />,
          a.hostname ?? "–",
          `${a.slotsUsed}/${a.capacity}`,
          kv(a.labels),
          a.capabilities.join(", ") || "–",
          time(a.lastHeartbeatAt),
          a.version ?? "–",
          ...(act ? [<AgentActions agent={a} ctx={props.ctx} />] : []),
        ])}
      />
    </Page>
  );
}

export function ServicesPage(props: {
  services: { service: ServiceView; history: ServiceHistoryView[] }[];
  ctx: PageContext;
}) {
  const { ctx } = props;
  return (
    <Page title="Services" ctx={ctx}>
      {props.services.length === 0 ? <p>No services yet.</p> : null}
      {props.services.map(({ service: s, history }) => (
        <section class="card" aria-labelledby={`svc-${s.name}`}>
          <h2 id={`svc-${s.name}`}>
            {s.name} <State state={s.health} />
          </h2>
          <p>
            Revision {s.revision ?? "–"} (previous {s.previousRevision ?? "–"}) · image <code>{s.image ?? "–"}</code>
            {s.updating ? ` · updating by ${s.updating.run}` : ""}
          </p>
          <Table
            caption={`Hosts of ${s.name}`}
            head={["Agent", "Running", "Expected", "Other revisions", "Address", "Healthy"]}
            rows={s.hosts.map((h) => [
              h.agent,
              h.running,
              h.expected,
              h.others,
              h.address ?? "–",
              h.healthy ? "yes" : "no",
            ])}
          />
          <Table
            caption={`History of ${s.name}`}
            head={["Revision", "Agent", "Since", "Until", "Run", "Action", "Reason"]}
            rows={history
              .slice(0, 20)
              .map((h) => [h.revision, h.agent, time(h.since), time(h.until), h.run, h.action, h.reason])}
          />
          {ctx.can("POST /services/:name/rollback") && s.previousRevision !== null ? (
            <ActionForm action={`/services/${s.name}/rollback`} csrf={ctx.csrf} label={`Roll back ${s.name}`} danger>
              <label>
                Reason <input name="reason" required maxlength={500} />
              </label>
            </ActionForm>
          ) : null}
        </section>
      ))}
    </Page>
  );
}

export function EnvironmentsPage(props: { environments: EnvironmentView[]; ctx: PageContext }) {
  return (
    <Page title="Environments" ctx={props.ctx}>
      <Table
        caption="Temporary environments"
        head={["Run", "Stage", "Agent", "Owner", "Created", "Expires", "Services"]}
        rows={props.environments.map((e) => [
          <a href={`/runs/${e.runId}`}>{e.runId.slice(0, 8)}</a>,
          e.stage,
          e.agent,
          e.owner,
          time(e.createdAt),
          time(e.expiresAt),
          kv(e.services),
        ])}
      />
    </Page>
  );
}

export function AlertsPage(props: { alerts: AlertView[]; ctx: PageContext }) {
  return (
    <Page title="Alerts" ctx={props.ctx}>
      <Table
        caption="Newest first"
        head={["Alert", "Status", "Summary", "Started", "Resolved", "Rollback"]}
        rows={props.alerts.map((a) => [
          a.alertname,
          <State state={a.status} />,
          a.summary ?? "–",
          time(a.startsAt),
          time(a.resolvedAt),
          a.rollback ? `${a.rollback.service} (${a.rollback.mode})` : (a.noRollback ?? "–"),
        ])}
      />
    </Page>
  );
}

export function AuditPage(props: { entries: AuditEntryView[]; ctx: PageContext }) {
  return (
    <Page title="Audit log" ctx={props.ctx}>
      <Table
        caption="Newest first"
        head={["#", "At", "Actor", "Action", "Target", "Details"]}
        rows={[...props.entries]
          .reverse()
          .map((e) => [e.id, time(e.at), e.actor, e.action, e.target, JSON.stringify(e.details)])}
      />
    </Page>
  );
}
