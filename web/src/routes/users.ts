// Users and the audit log (admin): `GET /users`, `POST /users` `{ "name": "...", "roles": [...] }`,
// `POST /users/:name/disable`, and `GET /audit?limit=N&before=ID`. The same operations as the
// gRPC AddUser, ListUsers, DisableUser and ListAudit (the server's services check names, roles and
// bounds for both edges); here the request's shape is checked, each refusal naming the field.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, WebServices } from "../types";
import { AuditEntryViewSchema, UserViewSchema } from "../farm-types";
import { DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT } from "../limits";
import { smallBody } from "./input";
import { bodyObject, nameParam, queryObject, requiredString, stringList, wholeQuery } from "./fields";
import { AUTH_ERRORS, BEARER, documentedBody, errorResponses, jsonBody, jsonResponse } from "./validate";

const MAX_BODY_BYTES = 8 * 1024;
/** A user name is 1-64 characters; a role list names each of the four roles at most a few times. */
const MAX_USER_NAME = 64;
const MAX_ROLES = 16;
const MAX_ROLE = 32;
const USER_SHAPE = '{ "name": "alice", "roles": ["operator", "approver"] }';

export const NewUserSchema = bodyObject({
  name: requiredString("name", MAX_USER_NAME),
  roles: stringList("roles", MAX_ROLES, MAX_ROLE).openapi({ description: "viewer | operator | approver | admin" }),
});
const EmptyBodySchema = bodyObject({});
const UserAnswer = z.object({ user: UserViewSchema });
const tags = ["users"];

function routes(api: OpenAPIHono<AppEnv>) {
  return {
    list: createRoute({
      method: "get",
      path: "/users",
      tags,
      summary: "Every user (never a token)",
      security: BEARER,
      request: { query: queryObject({}) },
      responses: {
        200: jsonResponse(z.object({ users: z.array(UserViewSchema) }), "The users"),
        ...errorResponses(400, ...AUTH_ERRORS),
      },
    }),
    add: createRoute({
      method: "post",
      path: "/users",
      tags,
      summary: "Add a user with roles",
      security: BEARER,
      middleware: [smallBody(MAX_BODY_BYTES), jsonBody(NewUserSchema, USER_SHAPE)] as const,
      request: { query: queryObject({}), body: documentedBody(api, "NewUser", NewUserSchema, true) },
      responses: { 201: jsonResponse(UserAnswer, "The user"), ...errorResponses(400, ...AUTH_ERRORS, 409, 413) },
    }),
    disable: createRoute({
      method: "post",
      path: "/users/{name}/disable",
      tags,
      summary: "Disable a user (their tokens stop working)",
      security: BEARER,
      middleware: [smallBody(MAX_BODY_BYTES), jsonBody(EmptyBodySchema, "nothing (or {})", true)] as const,
      request: {
        query: queryObject({}),
        params: z.object({ name: nameParam("user name", MAX_USER_NAME) }),
        body: documentedBody(api, "Empty", EmptyBodySchema, false),
      },
      responses: {
        200: jsonResponse(UserAnswer, "The user, disabled"),
        ...errorResponses(400, ...AUTH_ERRORS, 404, 409, 413),
      },
    }),
    audit: createRoute({
      method: "get",
      path: "/audit",
      tags: ["audit"],
      summary: "The audit log: the newest entries before `before`, oldest first",
      security: BEARER,
      request: {
        query: queryObject({
          limit: wholeQuery("limit", 1, MAX_AUDIT_LIMIT, `Entries (default ${DEFAULT_AUDIT_LIMIT}).`),
          before: wholeQuery("before", 1, Number.MAX_SAFE_INTEGER, "Only entries older than this id."),
        }),
      },
      responses: {
        200: jsonResponse(z.object({ entries: z.array(AuditEntryViewSchema) }), "The entries"),
        ...errorResponses(400, ...AUTH_ERRORS),
      },
    }),
  };
}

/** Mounts the user and audit routes on the API router (behind its access check). */
export function userRoutes(api: OpenAPIHono<AppEnv>, services: WebServices): void {
  const r = routes(api);
  api.openapi(r.list, async (c) => c.json({ users: await services.listUsers() }, 200));
  api.openapi(r.add, async (c) => {
    const { name, roles } = c.get("body") as z.infer<typeof NewUserSchema>;
    return c.json({ user: await services.addUser(name, roles ?? [], c.get("caller")) }, 201);
  });
  api.openapi(r.disable, async (c) =>
    c.json({ user: await services.disableUser(c.req.valid("param").name, c.get("caller")) }, 200),
  );
  api.openapi(r.audit, async (c) => {
    const { limit, before } = c.req.valid("query");
    return c.json({ entries: await services.listAudit({ limit, beforeId: before }) }, 200);
  });
}
