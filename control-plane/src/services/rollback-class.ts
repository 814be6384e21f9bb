// Why a service rolled back, as a class a metric can group by (dockyard_service_rollbacks_total's
// `reason`). Decided where the rollback starts, from what started it (a step's end state and
// phase, the update's timeout, a request and the class it came with), never from the reason text.
import type { ChildEnded } from "../stages/kind";
import type { Db, Tx } from "../store/db";
import { bumpCounter, SERVICE_ROLLBACKS } from "../store/farm-counters";

export const ROLLBACK_CLASSES = ["health", "died", "lost", "timeout", "requested", "alert"] as const;
export type RollbackClass = (typeof ROLLBACK_CLASSES)[number];

/** What a rollback request may say about itself: a person asked, or an alert did (the alert loop). */
export const REQUEST_CLASSES = ["requested", "alert"] as const;
export type RequestClass = (typeof REQUEST_CLASSES)[number];

export function isRequestClass(value: unknown): value is RequestClass {
  return typeof value === "string" && (REQUEST_CLASSES as readonly string[]).includes(value);
}

/**
 * The class of a rollback a failed host step started: its agent lost (`lost`), the step past its
 * timeout (`timeout`), a watched replica that stopped (`died`: a watch step fails only so), or new
 * replicas that never became healthy (`health`: a roll step's failure, start and exit included).
 */
export function stepFailureClass(phase: "roll" | "watch", child: Pick<ChildEnded, "state">): RollbackClass {
  if (child.state === "lost") return "lost";
  if (child.state === "timeout") return "timeout";
  return phase === "watch" ? "died" : "health";
}

/** Count a rollback of `service` (in the transaction that starts it). */
export function countRollback(tx: Tx | Db, service: string, reason: RollbackClass): Promise<void> {
  return bumpCounter(tx, SERVICE_ROLLBACKS, { service, reason });
}
