// The roles a Dockyard user can hold, defined once for every package: the pipeline file
// names them (`approvers: ["role:approver"]`, refused when unknown), the control plane
// (access/roles.ts) grants with them. What each role allows lives in the control plane.
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}
