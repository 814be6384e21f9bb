// Users and the audit log (admin): `GET /users`, `POST /users` `{ "name": "...", "roles": [...] }`,
// `POST /users/:name/disable`, and `GET /audit?limit=N&before=ID`. The same operations as the
// gRPC AddUser, ListUsers, DisableUser and ListAudit (the server's services check names, roles and
// bounds for both edges); here the request's shape is checked, each refusal naming the field.
import type { Hono } from "hono";
import type { AppEnv, WebServices } from "../types";
import { MAX_AUDIT_LIMIT } from "../limits";
import { jsonObject, nameParam, onlyParams, smallBody, stringField, stringListField, wholeParam } from "./input";

const MAX_BODY_BYTES = 8 * 1024;
/** A user name is 1-64 characters; a role list names each of the four roles at most a few times. */
const MAX_USER_NAME = 64;
const MAX_ROLES = 16;
const MAX_ROLE = 32;
const USER_SHAPE = '{ "name": "alice", "roles": ["operator", "approver"] }';

/** Mounts the user and audit routes on the API router (behind its access check). */
export function userRoutes(api: Hono<AppEnv>, services: WebServices): void {
  api.get("/users", async (c) => {
    onlyParams(c, []);
    return c.json({ users: await services.listUsers() });
  });
  api.post("/users", smallBody(MAX_BODY_BYTES), async (c) => {
    onlyParams(c, []);
    const body = await jsonObject(c, ["name", "roles"], USER_SHAPE);
    const name = stringField(body, "name", MAX_USER_NAME, true);
    const roles = stringListField(body, "roles", MAX_ROLES, MAX_ROLE) ?? [];
    return c.json({ user: await services.addUser(name, roles, c.get("caller")) }, 201);
  });
  api.post("/users/:name/disable", smallBody(MAX_BODY_BYTES), async (c) => {
    onlyParams(c, []);
    const name = nameParam(c, "name", "user name", MAX_USER_NAME);
    await jsonObject(c, [], "nothing (or {})", true);
    return c.json({ user: await services.disableUser(name, c.get("caller")) });
  });
  api.get("/audit", async (c) => {
    onlyParams(c, ["limit", "before"]);
    const limit = wholeParam(c, "limit", 1, MAX_AUDIT_LIMIT);
    const beforeId = wholeParam(c, "before", 1, Number.MAX_SAFE_INTEGER);
    return c.json({ entries: await services.listAudit({ limit, beforeId }) });
  });
}
