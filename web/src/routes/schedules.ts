// Schedules: `GET /schedules`, `GET /schedules/:name`, `GET /schedules/:name/ticks?limit=N`
// (viewer), `POST /schedules`, `DELETE /schedules/:name`, `POST /schedules/:name/pause|resume`
// (operator). The same operations as the gRPC schedule methods: the server checks the name,
// the cron expression, the zone and the pipeline for both edges and audits every change; here
// the request's shape is checked.
import type { Hono } from "hono";
import type { AppEnv, WebServices } from "../types";
import { jsonObject, nameParam, onlyParams, smallBody, stringField, wholeParam } from "./input";

/** The pipeline file is bounded by the server (256 KiB); this bounds the request as a whole. */
const MAX_SCHEDULE_BODY_BYTES = 512 * 1024;
const MAX_NAME = 40;
const MAX_TICKS = 500;
const FIELDS = ["name", "cron", "timezone", "pipeline", "defaultName"] as const;
const SHAPE =
  '{ "name": "nightly", "cron": "0 3 * * *", "timezone": "UTC", "pipeline": "<the pipeline file as text>" }';

export function scheduleRoutes(api: Hono<AppEnv>, services: WebServices): void {
  api.get("/schedules", async (c) => {
    onlyParams(c, []);
    return c.json({ schedules: await services.listSchedules() });
  });
  api.get("/schedules/:name", async (c) => {
    onlyParams(c, []);
    return c.json({ schedule: await services.getSchedule(nameParam(c, "name", "schedule name", MAX_NAME)) });
  });
  api.get("/schedules/:name/ticks", async (c) => {
    onlyParams(c, ["limit"]);
    const name = nameParam(c, "name", "schedule name", MAX_NAME);
    return c.json({ ticks: await services.scheduleTicks(name, wholeParam(c, "limit", 1, MAX_TICKS)) });
  });
  api.post("/schedules", smallBody(MAX_SCHEDULE_BODY_BYTES), async (c) => {
    onlyParams(c, []);
    const body = await jsonObject(c, FIELDS, SHAPE);
    const input = {
      name: stringField(body, "name", MAX_NAME * 2, true),
      cron: stringField(body, "cron", 400, true),
      timezone: stringField(body, "timezone", 128) || undefined,
      pipeline: stringField(body, "pipeline", MAX_SCHEDULE_BODY_BYTES, true),
      defaultName: stringField(body, "defaultName", 128) || undefined,
    };
    return c.json({ schedule: await services.createSchedule(input, c.get("caller")) }, 201);
  });
  api.delete("/schedules/:name", async (c) => {
    onlyParams(c, []);
    const name = nameParam(c, "name", "schedule name", MAX_NAME);
    await services.deleteSchedule(name, c.get("caller"));
    return c.json({ removed: name });
  });
  for (const [verb, enabled] of [
    ["pause", false],
    ["resume", true],
  ] as const) {
    api.post(`/schedules/:name/${verb}`, smallBody(1024), async (c) => {
      onlyParams(c, []);
      const name = nameParam(c, "name", "schedule name", MAX_NAME);
      return c.json({ schedule: await services.setScheduleEnabled(name, enabled, c.get("caller")) });
    });
  }
}
