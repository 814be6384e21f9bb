// Schedules: `GET /schedules`, `GET /schedules/:name`, `GET /schedules/:name/ticks?limit=N`
// (viewer), `POST /schedules`, `DELETE /schedules/:name`, `POST /schedules/:name/pause|resume`
// (operator). The same operations as the gRPC schedule methods: the server checks the name,
// the cron expression, the zone and the pipeline for both edges and audits every change; here
// the request's shape is checked.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, WebServices } from "../types";
import { ScheduleTickViewSchema, ScheduleViewSchema } from "../schedule-types";
import { smallBody } from "./input";
import { bodyObject, nameParam, optionalString, queryObject, requiredString, wholeQuery } from "./fields";
import { AUTH_ERRORS, BEARER, documentedBody, errorResponses, jsonBody, jsonResponse } from "./validate";

/** The pipeline file is bounded by the server (256 KiB); this bounds the request as a whole. */
const MAX_SCHEDULE_BODY_BYTES = 512 * 1024;
const MAX_NAME = 40;
const MAX_TICKS = 500;
const SHAPE =
  '{ "name": "nightly", "cron": "0 3 * * *", "timezone": "UTC", "pipeline": "<the pipeline file as text>" }';

export const NewScheduleSchema = bodyObject({
  name: requiredString("name", MAX_NAME * 2),
  cron: requiredString("cron", 400),
  timezone: optionalString("timezone", 128).openapi({ description: "An IANA zone (default UTC)." }),
  pipeline: requiredString("pipeline", MAX_SCHEDULE_BODY_BYTES).openapi({ description: "The pipeline file as text." }),
  defaultName: optionalString("defaultName", 128).openapi({ description: "The run's name when the file has none." }),
});
const NameParams = z.object({ name: nameParam("schedule name", MAX_NAME) });
const ScheduleAnswer = z.object({ schedule: ScheduleViewSchema });
const tags = ["schedules"];
const base = <P extends string>(method: "get" | "post" | "delete", path: P, summary: string) =>
  ({ method, path, tags, summary, security: BEARER }) as const;

function routes(api: OpenAPIHono<AppEnv>) {
  return {
    list: createRoute({
      ...base("get", "/schedules", "Every schedule"),
      request: { query: queryObject({}) },
      responses: {
        200: jsonResponse(z.object({ schedules: z.array(ScheduleViewSchema) }), "The schedules"),
        ...errorResponses(400, ...AUTH_ERRORS),
      },
    }),
    get: createRoute({
      ...base("get", "/schedules/{name}", "One schedule"),
      request: { query: queryObject({}), params: NameParams },
      responses: { 200: jsonResponse(ScheduleAnswer, "The schedule"), ...errorResponses(400, ...AUTH_ERRORS, 404) },
    }),
    ticks: createRoute({
      ...base("get", "/schedules/{name}/ticks", "A schedule's ticks, newest first"),
      request: {
        query: queryObject({ limit: wholeQuery("limit", 1, MAX_TICKS, "Ticks (default 50).") }),
        params: NameParams,
      },
      responses: {
        200: jsonResponse(z.object({ ticks: z.array(ScheduleTickViewSchema) }), "The ticks"),
        ...errorResponses(400, ...AUTH_ERRORS, 404),
      },
    }),
    create: createRoute({
      ...base("post", "/schedules", "Add a schedule: a pipeline file run on a cron expression"),
      middleware: [smallBody(MAX_SCHEDULE_BODY_BYTES), jsonBody(NewScheduleSchema, SHAPE)] as const,
      request: { query: queryObject({}), body: documentedBody(api, "NewSchedule", NewScheduleSchema, true) },
      responses: {
        201: jsonResponse(ScheduleAnswer, "The schedule"),
        ...errorResponses(400, ...AUTH_ERRORS, 409, 413),
      },
    }),
    remove: createRoute({
      ...base("delete", "/schedules/{name}", "Remove a schedule"),
      request: { query: queryObject({}), params: NameParams },
      responses: {
        200: jsonResponse(z.object({ removed: z.string() }), "The name removed"),
        ...errorResponses(400, ...AUTH_ERRORS, 404),
      },
    }),
    enable: (verb: "pause" | "resume") =>
      createRoute({
        ...base("post", `/schedules/{name}/${verb}`, verb === "pause" ? "Pause a schedule" : "Resume a schedule"),
        middleware: [smallBody(1024)] as const,
        request: { query: queryObject({}), params: NameParams },
        responses: {
          200: jsonResponse(ScheduleAnswer, "The schedule"),
          ...errorResponses(400, ...AUTH_ERRORS, 404, 413),
        },
      }),
  };
}

export function scheduleRoutes(api: OpenAPIHono<AppEnv>, services: WebServices): void {
  const r = routes(api);
  api.openapi(r.list, async (c) => c.json({ schedules: await services.listSchedules() }, 200));
  api.openapi(r.get, async (c) => c.json({ schedule: await services.getSchedule(c.req.valid("param").name) }, 200));
  api.openapi(r.ticks, async (c) =>
    c.json({ ticks: await services.scheduleTicks(c.req.valid("param").name, c.req.valid("query").limit) }, 200),
  );
  api.openapi(r.create, async (c) => {
    const body = c.get("body") as z.infer<typeof NewScheduleSchema>;
    const input = { ...body, timezone: body.timezone || undefined, defaultName: body.defaultName || undefined };
    return c.json({ schedule: await services.createSchedule(input, c.get("caller")) }, 201);
  });
  api.openapi(r.remove, async (c) => {
    const { name } = c.req.valid("param");
    await services.deleteSchedule(name, c.get("caller"));
    return c.json({ removed: name }, 200);
  });
  for (const [verb, enabled] of [
    ["pause", false],
    ["resume", true],
  ] as const) {
    api.openapi(r.enable(verb), async (c) =>
      c.json({ schedule: await services.setScheduleEnabled(c.req.valid("param").name, enabled, c.get("caller")) }, 200),
    );
  }
}
