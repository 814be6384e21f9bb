// Agents: list, drain/undrain, revoke, remove (a gone one).
import type { Context, Hono } from "hono";
import type { AppEnv, WebServices } from "../types";
import { invalid, onlyParams, smallBody } from "./input";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function agentId(c: Context): string {
  const id = c.req.param("id") ?? "";
  if (!UUID.test(id)) throw invalid(`invalid id '${id.slice(0, 40)}': an agent id is a UUID`, "id");
  return id;
}

export function agentRoutes(api: Hono<AppEnv>, services: WebServices): void {
  api.get("/agents", async (c) => c.json({ agents: await services.listAgents() }));
  api.delete("/agents/:id", async (c) =>
    c.json({ removed: await services.removeAgent(c.req.param("id"), c.get("caller")) }),
  );
  for (const [verb, drain] of [
    ["drain", true],
    ["undrain", false],
  ] as const) {
    api.post(`/agents/:id/${verb}`, smallBody(1024), async (c) => {
      onlyParams(c, []);
      return c.json({ agent: await services.drainAgent(agentId(c), drain, c.get("caller")) });
    });
  }
  api.post("/agents/:id/revoke", smallBody(1024), async (c) => {
    onlyParams(c, []);
    return c.json(await services.revokeAgent(agentId(c), c.get("caller")));
  });
}
