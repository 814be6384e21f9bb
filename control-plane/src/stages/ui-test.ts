// `ui-test`: a browser journey on an agent with the `browser` capability (Chromium). The
// assignment carries the base URL (the stage's `url`, or a host proxy of its service and that
// service's revision, resolved at assignment: ui-test-inputs.ts) and the journey's history on
// its env, which the agent needs for cumulative metrics.
import type { AgentStageKind } from "./kind";
import { RETRY_LOST } from "./kind";
import { InvalidError } from "../errors";

export const uiTest: AgentStageKind<"ui-test"> = {
  type: "ui-test",
  runsOn: "agent",
  retry: RETRY_LOST,
  capabilities: ["browser"],
  requires: () => ["browser"],
  summary: ({ values: v }) =>
    v.success === undefined
      ? null
      : v.success === "true"
        ? `journey ${v.journey} passed in ${v.duration_ms} ms (${v.attempts} attempt(s))`
        : `journey ${v.journey} failed at step '${v.failed_step}': ${v.error ?? ""}`.slice(0, 300),
  assignment: (spec, ctx) => {
    const inputs = ctx.uiTest;
    if (!inputs) throw new InvalidError("ui-test: its history was not loaded (a server bug)");
    const baseUrl = inputs.target?.baseUrl ?? spec.url;
    if (!baseUrl) throw new InvalidError(`ui-test: neither url nor a service host for journey '${spec.journey}'`);
    return {
      case: "uiTest",
      value: {
        journey: spec.journey,
        env: spec.env,
        baseUrl,
        service: inputs.target?.service ?? "",
        serviceRevision: inputs.target?.revision ?? 0,
        steps: spec.steps.map((s) => ({
          action: s.action,
          name: s.name,
          target: s.action === "goto" ? s.target : "",
          selector: "selector" in s ? (s.selector ?? "") : "",
          value: s.action === "fill" ? s.value : "",
          text: s.action === "expect" ? (s.text ?? "") : "",
          status: s.action === "expect" ? (s.status ?? 0) : 0,
        })),
        script: spec.script ?? "",
        retries: spec.retries,
        thresholdMs: BigInt(spec.thresholdMs ?? 0),
        expectEveryMs: BigInt(spec.expectEveryMs ?? 0),
        history: {
          recent: inputs.history.recent,
          checksPassed: BigInt(inputs.history.checksPassed),
          checksFailed: BigInt(inputs.history.checksFailed),
          lastSuccessMs: BigInt(inputs.history.lastSuccessMs),
        },
      },
    };
  },
};
