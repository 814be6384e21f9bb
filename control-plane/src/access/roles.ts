// Roles and what they allow. A user holds a SET of roles; a role also grants the
// roles it implies (every role can read; admin can do everything). operator and approver
// are deliberately apart: who runs a pipeline need not be who approves its deploy.
// The role names are defined once, in @dockyard/pipeline (a pipeline file names them too).
import { isRole, type Role } from "@dockyard/pipeline";

export { ROLES, isRole, type Role } from "@dockyard/pipeline";

const IMPLIES: Record<Role, readonly Role[]> = {
  viewer: ["viewer"],
  operator: ["operator", "viewer"],
  approver: ["approver", "viewer"],
  admin: ["admin", "operator", "approver", "viewer"],
};

/** Whether a user holding `held` may do what `needed` guards. */
export function hasRole(held: readonly string[], needed: Role): boolean {
  return held.some((r) => isRole(r) && IMPLIES[r].includes(needed));
}
