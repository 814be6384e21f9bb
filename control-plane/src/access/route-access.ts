// The web app's view of the access table (it holds no roles of its own).
import type { RouteAccess } from "@dockyard/web";
import { HTTP_ACCESS } from "./role-table";
import { hasRole, isRole } from "./roles";

export const routeAccess: RouteAccess = {
  routeAccess: (route) => HTTP_ACCESS[route],
  allows: (roles, role) => isRole(role) && hasRole(roles, role),
};
