// A new firing alert's messages, enqueued in the transaction that stores it: one per channel of
// each `notify:` rule naming `alert` in the pipeline of the alert's run (alert-targets.ts), with
// the rule's templates or the alert's defaults, plus the farm's alert channels
// (DOCKYARD_ALERT_CHANNELS) with the defaults. A channel gets one message however many name it.
import { eq } from "drizzle-orm";
import type { Tx } from "../store/db";
import { runs } from "../store/schema";
import { enqueueNotification } from "../notify/outbox";
import { matchingRules, runNotifyContext } from "../notify/run-notify";
import type { NotifyContext } from "../notify/templates";
import type { NewAlert } from "./alert-store";

export const ALERT_SUBJECT = "[dockyard] alert {{ alert.name }}: {{ alert.summary }}";
export const ALERT_BODY =
  "Alert {{ alert.name }} is firing: {{ alert.summary }}\nLabels: {{ alert.labels }}{{ alert.pipeline_line }}";

/** What templates see as `alert`: its name, summary, labels as `k=v, ...` and each label by name. */
export function alertValues(a: NewAlert, run: { name: string; number: number } | null): Record<string, string> {
  const labels = Object.entries(a.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return {
    ...a.labels,
    name: a.alertname,
    status: a.status,
    summary: a.annotations.summary ?? a.annotations.description ?? "",
    labels,
    starts_at: a.startsAt.toISOString(),
    pipeline_line: run ? `\nPipeline: ${run.name} (last run #${run.number})` : "",
  };
}

/** Enqueue the alert's messages; answers the channels notified. */
export async function notifyAlert(
  tx: Tx,
  a: NewAlert,
  pipelineRunId: string | null,
  farmChannels: readonly string[],
  now: Date,
): Promise<string[]> {
  const notified = new Set<string>();
  if (pipelineRunId) {
    const [run] = await tx.select({ notify: runs.notify }).from(runs).where(eq(runs.id, pipelineRunId));
    const rules = matchingRules(run?.notify ?? null, "alert");
    const context = rules.length > 0 ? await runNotifyContext(tx, pipelineRunId, "alert", "firing") : null;
    if (context) {
      context.alert = alertValues(a, context.run ?? null);
      for (const rule of rules) {
        const channels = rule.channels.filter((c) => !notified.has(c));
        await enqueueNotification(
          tx,
          {
            channels,
            subject: rule.subject ?? ALERT_SUBJECT,
            body: rule.body ?? ALERT_BODY,
            context,
            runId: pipelineRunId,
          },
          now,
        );
        for (const c of channels) notified.add(c);
      }
    }
  }
  const farm = farmChannels.filter((c) => !notified.has(c));
  if (farm.length > 0) {
    const context: NotifyContext = { event: "alert", status: "firing", alert: alertValues(a, null) };
    await enqueueNotification(tx, { channels: farm, subject: ALERT_SUBJECT, body: ALERT_BODY, context }, now);
    for (const c of farm) notified.add(c);
  }
  return [...notified];
}
