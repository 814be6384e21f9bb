// `approval`: the run waits here until a listed approver decides (CLI or HTTP) or the
// deadline passes (on_timeout: reject, approve or skip). Runs on the server (see
// server-runner.ts): its deadline and reminder are timers in Postgres, its decisions are
// signals, so it survives restarts and any replica may take a decision. Every step writes
// an `approval` run event (waiting, reminder, approved, rejected, timed_out, canceled).
import { hasRole, isRole } from "../access/roles";
import type { ApprovalSpec } from "@dockyard/pipeline";
import { ForbiddenError } from "../errors";
import { withOutputs } from "./output-text";
import { NO_RETRY, type ServerStage, type ServerStageKind } from "./kind";
import { approversText, clockText, waitingText } from "./approval-text";
import { timeLeftText } from "../domain/waiting-reason";

const DEADLINE = "deadline";
const REMINDER = "reminder";

const specOf = (stage: ServerStage) => stage.spec as ApprovalSpec;
const deadlineOf = (stage: ServerStage) => new Date(String(stage.state.deadline));
const runRef = (stage: ServerStage) => `${stage.run.name}#${stage.run.number}`;

export const approval: ServerStageKind<"approval"> = {
  type: "approval",
  runsOn: "server",
  retry: NO_RETRY,
  ownsTimeout: true,

  async start(stage, ctx) {
    const spec = specOf(stage);
    const now = ctx.now();
    const deadline = new Date(now.getTime() + spec.timeoutMs);
    // Instructions may read earlier outputs: substituted once, now (a missing one errors the stage).
    const instructions = stage.refs.length > 0 ? await withOutputs(spec.instructions, ctx) : spec.instructions;
    await ctx.setState({ deadline: deadline.toISOString(), instructions });
    await ctx.setTimer(deadline, DEADLINE);
    if (spec.reminderMs !== null && spec.reminderMs < spec.timeoutMs)
      await ctx.setTimer(new Date(deadline.getTime() - spec.reminderMs), REMINDER);
    const reason = waitingText(spec, deadline, now, runRef(stage), stage.stageName);
    await ctx.event({
      action: "waiting",
      approvers: approversText(spec.approvers),
      deadline: deadline.toISOString(),
      instructions,
      reason,
    });
    await ctx.waiting(reason);
    await ctx.notify.runEvent("waiting", reason, {
      values: { approval: approvalValues(spec, deadline, { instructions }) },
    });
  },

  async onTimer(stage, what, ctx) {
    const spec = specOf(stage);
    const deadline = deadlineOf(stage);
    if (what === REMINDER) {
      const reason = waitingText(spec, deadline, ctx.now(), runRef(stage), stage.stageName);
      await ctx.event({
        action: "reminder",
        approvers: approversText(spec.approvers),
        deadline: deadline.toISOString(),
        reason,
      });
      // The same rules as `waiting`, marked as a reminder with the time left.
      const left = timeLeftText(deadline.getTime() - ctx.now().getTime());
      const values = { approval: approvalValues(spec, deadline, { reminder: "true", left }) };
      await ctx.notify.runEvent("waiting", `reminder: ${reason}`, {
        subjectPrefix: `Reminder (${left} left): `,
        values,
      });
      return;
    }
    if (what !== DEADLINE) return;
    const at = clockText(deadline, ctx.now());
    await ctx.event({ action: "timed_out", onTimeout: spec.onTimeout, deadline: deadline.toISOString() });
    const outputs = {
      values: {
        decision: spec.onTimeout === "approve" ? "approved" : spec.onTimeout === "skip" ? "skipped" : "rejected",
        decided_by: "timeout",
        via: "timeout",
        comment: "",
      },
    };
    // A deadline that approves or rejects is that decision for the `notify:` rules; a skip is neither.
    if (spec.onTimeout !== "skip") {
      const action = outputs.values.decision;
      const values = { approval: approvalValues(spec, deadline, { decision: action, by: "timeout", via: "timeout" }) };
      await ctx.notify.runEvent(action, `${action} at its deadline (no decision by ${at})`, { values });
    }
    if (spec.onTimeout === "approve")
      await ctx.finish("succeeded", `no decision by ${at}: approved (on_timeout: approve)`, outputs);
    // A skip keeps its outputs (decision: skipped), for the dependents that continue past it (if_skipped: continue).
    else if (spec.onTimeout === "skip")
      await ctx.finish("failed", `no decision by ${at}: skipped (on_timeout: skip)`, outputs, "skipped");
    else await ctx.finish("failed", `no decision by ${at}: rejected (on_timeout: reject)`);
  },

  checkSignal(stage, signal) {
    const spec = specOf(stage);
    // A listed role is held directly or through one that implies it (admin implies approver).
    const listed =
      spec.approvers.users.includes(signal.by) ||
      spec.approvers.roles.some((r) => (isRole(r) ? hasRole(signal.roles, r) : signal.roles.includes(r)));
    const who = `approvers of '${stage.stageName}' are ${approversText(spec.approvers)}`;
    if (!listed)
      throw new ForbiddenError(
        `${signal.by} may not decide approval '${stage.stageName}' of run ${runRef(stage)}: ${who}`,
      );
    if (spec.forbidSelf && stage.run.startedBy !== "" && signal.by === stage.run.startedBy) {
      throw new ForbiddenError(
        `${signal.by} started run ${runRef(stage)} and may not decide its approval '${stage.stageName}' (forbid_self); ${who}`,
      );
    }
  },

  async onSignal(stage, signal, ctx) {
    const approved = signal.kind === "approve";
    const action = approved ? "approved" : "rejected";
    await ctx.event({ action, by: signal.by, via: signal.via, comment: signal.comment, at: signal.at.toISOString() });
    const reason = `${action} by ${signal.by} via ${signal.via}${signal.comment ? `: ${signal.comment}` : ""}`;
    const outputs = { values: { decision: action, decided_by: signal.by, via: signal.via, comment: signal.comment } };
    const values = {
      approval: approvalValues(specOf(stage), deadlineOf(stage), {
        decision: action,
        by: signal.by,
        via: signal.via,
        comment: signal.comment,
      }),
    };
    await ctx.notify.runEvent(action, reason, { values });
    await ctx.finish(approved ? "succeeded" : "failed", reason, outputs);
  },

  async cancel(stage, ctx) {
    await ctx.event({ action: "canceled", deadline: deadlineOf(stage).toISOString() });
  },
};

/** What a `notify:` template sees as {{ approval.* }}: approvers, deadline, and the decision's details. */
function approvalValues(spec: ApprovalSpec, deadline: Date, more: Record<string, string>): Record<string, string> {
  return { approvers: approversText(spec.approvers), deadline: deadline.toISOString(), ...more };
}
