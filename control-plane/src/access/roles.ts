// Roles and what they allow. A user holds a SET of roles; a role also grants the
// roles it implies (every role can read; admin can do everything). operator and approver
// are deliberately apart: who runs a pipeline need not be who approves its deploy.
export const ROLES = ["viewer", "operator", "approver", "admin"] as const;
export type Role = (typeof ROLES)[number];

const IMPLIES: Record<Role, readonly Role[]> = {
  viewer: ["viewer"],
  operator: ["operator", "viewer"],
  approver: ["approver", "viewer"],
  admin: ["admin", "operator", "approver", "viewer"],
};

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

/** Whether a user holding `held` may do what `needed` guards. */
export function hasRole(held: readonly string[], needed: Role): boolean {
  return held.some((r) => isRole(r) && IMPLIES[r].includes(needed));
}
