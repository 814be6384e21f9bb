// The public JSON of agents, tokens, environments, users and the audit log (zod schemas; the
// types are inferred from them). Conventions as in run-types.ts.
import { z } from "@hono/zod-openapi";

const time = z.string().openapi({ format: "date-time" });

export const AgentViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    hostname: z.string().nullable(),
    state: z.string().describe("online | draining | lost | offline | revoked"),
    labels: z.record(z.string(), z.string()),
    capacity: z.number().int(),
    slotsUsed: z.number().int(),
    lastHeartbeatAt: time.nullable(),
    version: z.string().nullable(),
    capabilities: z.array(z.string()).describe("What the agent offers stage kinds: docker, shell, build."),
    revokedAt: time.nullable().describe("When it was revoked; null when it was not."),
    drainRequestedAt: time
      .nullable()
      .describe("When an admin drained it (it stays draining until undrained); null when not."),
  })
  .openapi("Agent");
export type AgentView = z.infer<typeof AgentViewSchema>;

/** A join token (registers agents) or an API token (clients); never its secret. */
export const TokenViewSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["join", "api"]),
    user: z.string().nullable().describe("The API token's user; null for join tokens."),
    description: z.string().nullable(),
    createdAt: time,
    lastUsedAt: time.nullable().describe("null when never used; recorded at most once a minute per token."),
    revokedAt: time.nullable().describe("null while it is live."),
  })
  .openapi("Token");
export type TokenView = z.infer<typeof TokenViewSchema>;

/** A temporary environment a deploy stage started, until its agent reports it gone. */
export const EnvironmentViewSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    stage: z.string(),
    agent: z.string(),
    owner: z.string(),
    createdAt: time.nullable().describe("null when its agent could not tell (no container left)."),
    expiresAt: time.nullable().describe("null when its labels carry no expiry (such an environment is never reaped)."),
    services: z.record(z.string(), z.string()).describe("Service -> address (host:port) on the environment's network."),
  })
  .openapi("Environment");
export type EnvironmentView = z.infer<typeof EnvironmentViewSchema>;

/** A user (`GET /users`): never a token. */
export const UserViewSchema = z
  .object({
    name: z.string(),
    roles: z.array(z.string()).describe("viewer | operator | approver | admin"),
    createdAt: time,
    disabledAt: time.nullable().describe("null while the user is enabled."),
    activeTokens: z.number().int().describe("API tokens of the user that are not revoked."),
  })
  .openapi("User");
export type UserView = z.infer<typeof UserViewSchema>;

/** One entry of the append-only audit log (`GET /audit`). */
export const AuditEntryViewSchema = z
  .object({
    id: z.number().int().describe("Increasing; `?before=ID` pages back from it."),
    at: time,
    actor: z.string().describe("A user's name, `agent:NAME`, or `server`."),
    action: z
      .string()
      .describe(
        "Dotted verb: user.added, token.created, secret.set, channel.added, run.started, approval.decided, ...",
      ),
    target: z.string(),
    details: z.record(z.string(), z.unknown()).describe("Never a secret value."),
  })
  .openapi("AuditEntry");
export type AuditEntryView = z.infer<typeof AuditEntryViewSchema>;
