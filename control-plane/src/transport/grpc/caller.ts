// Who is calling: set by the access guard (guard.ts) once the bearer token is checked and
// the method's role allowed, read by handlers through callerOf. Handlers never parse tokens.
import type { Actor } from "../../store/audit";
import { UnauthenticatedError } from "../../errors";

export interface Caller {
  userId: string;
  /** The user's name. */
  user: string;
  roles: string[];
}

const callers = new WeakMap<object, Caller>();

export function setCaller(call: object, caller: Caller): void {
  callers.set(call, caller);
}

/** The authenticated user of a call that passed the guard; throws for a call that did not (a wiring bug). */
export function callerOf(call: object): Caller {
  const caller = callers.get(call);
  if (!caller) throw new UnauthenticatedError("this call carries no authenticated user");
  return caller;
}

/** The caller as the audit log names it. */
export function actorOf(caller: Caller): Actor {
  return { kind: "user", userId: caller.userId, name: caller.user };
}
