// The words of an approval: who may decide, the waiting reason, a decision's reason.
import type { ApprovalSpec } from "@dockyard/pipeline";
import { timeLeftText } from "../domain/waiting-reason";

/** `alice, bob or role approver`. */
export function approversText(approvers: ApprovalSpec["approvers"]): string {
  const parts = [...approvers.users, ...approvers.roles.map((r) => `role ${r}`)];
  return parts.length <= 1 ? (parts[0] ?? "nobody") : `${parts.slice(0, -1).join(", ")} or ${parts.at(-1)}`;
}

/** `14:05 UTC` (with the date when it is not today's). */
export function clockText(at: Date, now: Date): string {
  const hm = at.toISOString().slice(11, 16);
  return at.toISOString().slice(0, 10) === now.toISOString().slice(0, 10)
    ? `${hm} UTC`
    : `${at.toISOString().slice(0, 10)} ${hm} UTC`;
}

export function waitingText(spec: ApprovalSpec, deadline: Date, now: Date, runRef: string, stageName: string): string {
  return (
    `waiting for approval by ${approversText(spec.approvers)} until ${clockText(deadline, now)} (in ${timeLeftText(deadline.getTime() - now.getTime())}); ` +
    `decide with: dockyard approve ${runRef} ${stageName}`
  );
}
