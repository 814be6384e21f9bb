// Agents: list, drain/undrain, revoke, remove (a gone one); and the farm's other lists: API and
// join tokens, temporary environments.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, WebServices } from "../types";
import { AgentViewSchema, EnvironmentViewSchema, TokenViewSchema } from "../farm-types";
import { smallBody } from "./input";
import { queryObject } from "./fields";
import { AUTH_ERRORS, BEARER, errorResponses, jsonResponse } from "./validate";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const AgentIdParams = z.object({
  id: z
    .string()
    .regex(UUID, { error: (iss) => `invalid id '${String(iss.input).slice(0, 40)}': an agent id is a UUID` })
    .openapi({ format: "uuid" }),
});
const tags = ["agents"];

const listAgents = createRoute({
  method: "get",
  path: "/agents",
  tags,
  summary: "Every agent",
  security: BEARER,
  responses: {
    200: jsonResponse(z.object({ agents: z.array(AgentViewSchema) }), "The agents"),
    ...errorResponses(...AUTH_ERRORS),
  },
});

const removeAgent = createRoute({
  method: "delete",
  path: "/agents/{id}",
  tags,
  summary: "Remove an agent that is gone",
  security: BEARER,
  // Not checked as a UUID here, as before: the service refuses what it does not know (404).
  request: { params: z.object({ id: z.string() }) },
  responses: {
    200: jsonResponse(
      z.object({ removed: z.object({ id: z.string(), name: z.string(), state: z.string() }) }),
      "The agent removed",
    ),
    ...errorResponses(...AUTH_ERRORS, 404, 409),
  },
});

function drainRoute(verb: "drain" | "undrain") {
  return createRoute({
    method: "post",
    path: `/agents/{id}/${verb}`,
    tags,
    summary:
      verb === "drain"
        ? "Drain an agent: it finishes what it runs and takes nothing new, until undrained"
        : "Undrain an agent",
    security: BEARER,
    middleware: [smallBody(1024)] as const,
    request: { params: AgentIdParams, query: queryObject({}) },
    responses: {
      200: jsonResponse(z.object({ agent: AgentViewSchema }), "The agent"),
      ...errorResponses(400, ...AUTH_ERRORS, 404, 409, 413),
    },
  });
}

const revokeAgent = createRoute({
  method: "post",
  path: "/agents/{id}/revoke",
  tags,
  summary: "Revoke an agent: its session ends, its id cannot register again, its attempts end as lost",
  security: BEARER,
  middleware: [smallBody(1024)] as const,
  request: { params: AgentIdParams, query: queryObject({}) },
  responses: {
    200: jsonResponse(z.object({ agent: AgentViewSchema, attemptsLost: z.number().int() }), "The agent revoked"),
    ...errorResponses(400, ...AUTH_ERRORS, 404, 409, 413),
  },
});

const listTokens = createRoute({
  method: "get",
  path: "/tokens",
  tags: ["tokens"],
  summary: "Join and API tokens (never their secrets)",
  security: BEARER,
  responses: {
    200: jsonResponse(z.object({ tokens: z.array(TokenViewSchema) }), "The tokens"),
    ...errorResponses(...AUTH_ERRORS),
  },
});

const listEnvironments = createRoute({
  method: "get",
  path: "/environments",
  tags: ["environments"],
  summary: "Temporary environments deploy stages started",
  security: BEARER,
  responses: {
    200: jsonResponse(z.object({ environments: z.array(EnvironmentViewSchema) }), "The environments"),
    ...errorResponses(...AUTH_ERRORS),
  },
});

export function agentRoutes(api: OpenAPIHono<AppEnv>, services: WebServices): void {
  api.openapi(listAgents, async (c) => c.json({ agents: await services.listAgents() }, 200));
  api.openapi(removeAgent, async (c) =>
    c.json({ removed: await services.removeAgent(c.req.valid("param").id, c.get("caller")) }, 200),
  );
  for (const [verb, drain] of [
    ["drain", true],
    ["undrain", false],
  ] as const) {
    api.openapi(drainRoute(verb), async (c) =>
      c.json({ agent: await services.drainAgent(c.req.valid("param").id, drain, c.get("caller")) }, 200),
    );
  }
  api.openapi(revokeAgent, async (c) =>
    c.json(await services.revokeAgent(c.req.valid("param").id, c.get("caller")), 200),
  );
  api.openapi(listTokens, async (c) => c.json({ tokens: await services.listTokens() }, 200));
  api.openapi(listEnvironments, async (c) => c.json({ environments: await services.listEnvironments() }, 200));
}
