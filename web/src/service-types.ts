// The services' public JSON (GET /api/v1/services, .../history, POST .../rollback; the CLI's
// --json prints the same): a value that does not exist (yet) is null.
import { z } from "@hono/zod-openapi";

const time = z.string().openapi({ format: "date-time" });

export const ServiceHostViewSchema = z
  .object({
    agent: z.string(),
    agentId: z.string(),
    expected: z.number().int().describe("Replicas the current revision places on this host."),
    running: z.number().int().describe("Replicas of the current revision running here, as its agent last reported."),
    others: z
      .number()
      .int()
      .describe("Running replicas of other revisions (warm ones during a watch window, or leftovers)."),
    address: z.string().nullable().describe("The service's address on this host (its proxy); null before reported."),
    healthy: z.boolean(),
  })
  .openapi("ServiceHost");
export type ServiceHostView = z.infer<typeof ServiceHostViewSchema>;

export const ServiceViewSchema = z
  .object({
    name: z.string(),
    revision: z.number().int().nullable().describe("null: no revision yet."),
    previousRevision: z.number().int().nullable(),
    image: z.string().nullable(),
    proxyPort: z.number().int(),
    health: z
      .enum(["healthy", "degraded", "none"])
      .describe("healthy: every host runs all its replicas of the revision; degraded: some do not; none: no revision."),
    hosts: z.array(ServiceHostViewSchema),
    updating: z
      .object({ runId: z.string(), run: z.string(), stage: z.string() })
      .nullable()
      .describe("The update holding the service now (a deploy queue's head), or null."),
    updatedAt: time,
  })
  .openapi("Service");
export type ServiceView = z.infer<typeof ServiceViewSchema>;

export const ServiceHistoryViewSchema = z
  .object({
    revision: z.number().int(),
    agent: z.string(),
    replicas: z.number().int(),
    since: time,
    until: time.nullable().describe("null: it still runs there."),
    run: z.string().describe("`PIPELINE#NUMBER` of the run that put it there."),
    runId: z.string().nullable(),
    action: z.enum(["update", "rollback"]),
    reason: z.string(),
  })
  .openapi("ServiceHistory");
export type ServiceHistoryView = z.infer<typeof ServiceHistoryViewSchema>;

export const RollbackViewSchema = z
  .object({
    mode: z.enum(["switch", "run"]).describe("switch: the update in progress rolls back; run: a rollback run started."),
    runId: z.string(),
  })
  .openapi("Rollback");
export type RollbackView = z.infer<typeof RollbackViewSchema>;
