// One incoming decision from a chat tool: `POST /hooks/v1/approvals/:hook`. The request carries
// no API token; its Standard Webhooks signature (HMAC-SHA256 over id.timestamp.body with the
// hook's key) is its credential, so the route is `webhook` in the access table and everything
// is checked here, in this order, before anything moves:
//   1. the hook exists (401), 2. the signature and a timestamp within 5 minutes (401),
//   3. the webhook-id was not received before (409: replays refused, even across replicas),
//   4. the body (400), 5. the decision itself: the hook's user must be a listed approver (403)
//      and the stage waiting (409), exactly as from the CLI or the HTTP API.
// The hook decides as its one bound user (chosen so that a chat tool cannot speak for anyone
// else); a body naming another `user` is refused.
import { and, eq, lt, sql } from "drizzle-orm";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { Db } from "../store/db";
import { hookSeenIds } from "../store/schema";
import { ConflictError, DockyardError, ForbiddenError, InvalidError, UnauthenticatedError } from "../errors";
import type { Clock } from "../clock";
import type { HookStore } from "./hook-store";
import type { Decision } from "../approval-decisions";
import type { Caller } from "../transport/grpc/caller";

/** Largest body accepted (bytes). */
export const MAX_HOOK_BODY_BYTES = 8 * 1024;
/** How old a webhook-timestamp may be (the standardwebhooks package's tolerance), and so how long ids are kept. */
export const HOOK_TOLERANCE_MS = 5 * 60_000;
const MAX_ID = 128;
const FIELDS = ["run", "stage", "decision", "user", "comment"];

export interface HookDecisionDeps {
  db: Db;
  hooks: HookStore;
  clock: Clock;
  /** Decides as `caller` (RunsService.decide); returns the run id. */
  decide(ref: string, stage: string, decision: Decision, caller: Caller): Promise<string>;
}

export interface HookRequest {
  hook: string;
  headers: Record<string, string>;
  body: string;
}

export async function receiveHookDecision(
  deps: HookDecisionDeps,
  req: HookRequest,
): Promise<{ run: string; stage: string; decision: string; by: string }> {
  if (Buffer.byteLength(req.body) > MAX_HOOK_BODY_BYTES)
    throw new InvalidError(`request body exceeds ${MAX_HOOK_BODY_BYTES} bytes`);
  const hook = await deps.hooks.lookup(req.hook);
  if (!hook) throw new UnauthenticatedError(`unknown hook '${req.hook.slice(0, 64)}'`);
  try {
    new Webhook(hook.key).verify(req.body, req.headers, { jsonParse: false });
  } catch (err) {
    if (err instanceof WebhookVerificationError)
      throw new UnauthenticatedError(`webhook refused: ${verificationMessage(err.message)}`);
    throw err;
  }
  const id = req.headers["webhook-id"]!;
  if (id.length > MAX_ID) throw new InvalidError(`webhook-id is ${id.length} characters; the limit is ${MAX_ID}`);
  await rememberId(deps, req.hook, id);
  try {
    return await decideAs(deps, req, hook.user);
  } catch (err) {
    // A refusal (bad body, not an approver, not waiting) spends the id: it would be refused again.
    // A failure of ours (database down) frees it, so the sender's retry of the same message works.
    const code = (err as { code?: unknown }).code;
    if (!(err instanceof DockyardError) || code === "unavailable" || code === "internal")
      await forgetId(deps, req.hook, id).catch(() => undefined);
    throw err;
  }
}

async function decideAs(
  deps: HookDecisionDeps,
  req: HookRequest,
  user: { id: string; name: string; roles: string[]; disabledAt: Date | null },
): Promise<{ run: string; stage: string; decision: string; by: string }> {
  const body = parseBody(req.body);
  if (body.user !== undefined && body.user !== user.name) {
    throw new ForbiddenError(
      `hook '${req.hook}' decides as user '${user.name}' only; it may not decide as '${body.user.slice(0, 64)}'`,
    );
  }
  if (user.disabledAt) throw new ForbiddenError(`user '${user.name}' of hook '${req.hook}' is disabled`);
  const caller: Caller = { userId: user.id, user: user.name, roles: user.roles };
  const run = await deps.decide(
    body.run,
    body.stage,
    { approve: body.decision === "approve", comment: body.comment, via: "webhook" },
    caller,
  );
  return { run, stage: body.stage, decision: body.decision, by: user.name };
}

function verificationMessage(message: string): string {
  if (message === "Missing required headers")
    return "webhook-id, webhook-timestamp and webhook-signature headers are required";
  if (message === "Message timestamp too old") return "webhook-timestamp is more than 5 minutes old";
  if (message === "Message timestamp too new") return "webhook-timestamp is more than 5 minutes in the future";
  if (message === "Invalid Signature Headers") return "webhook-timestamp is not a number of seconds";
  if (message === "No matching signature found")
    return "webhook-signature does not match the body (wrong key, or the body changed)";
  return message;
}

/** Records the id, once: a second request with it (a replay, or the same delivery at another replica) is refused. */
async function rememberId(deps: HookDecisionDeps, hook: string, id: string): Promise<void> {
  const now = deps.clock.now();
  // Ids older than the tolerance cannot come back: their timestamp would be refused first.
  await deps.db.delete(hookSeenIds).where(lt(hookSeenIds.seenAt, new Date(now.getTime() - 2 * HOOK_TOLERANCE_MS)));
  const inserted = await deps.db
    .insert(hookSeenIds)
    .values({ hook, messageId: id, seenAt: now })
    .onConflictDoNothing()
    .returning({ one: sql<number>`1` });
  if (inserted.length === 0)
    throw new ConflictError(`webhook-id '${id.slice(0, 64)}' was already received: a replayed message is refused`);
}

async function forgetId(deps: HookDecisionDeps, hook: string, id: string): Promise<void> {
  await deps.db.delete(hookSeenIds).where(and(eq(hookSeenIds.hook, hook), eq(hookSeenIds.messageId, id)));
}

interface HookBody {
  run: string;
  stage: string;
  decision: "approve" | "reject";
  user?: string;
  comment: string;
}

const example = '{ "run": "PIPELINE#N", "stage": "NAME", "decision": "approve" | "reject", "comment": "..." }';

function parseBody(text: string): HookBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvalidError(`request body must be JSON: ${example}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new InvalidError(`request body must be a JSON object: ${example}`);
  const b = body as Record<string, unknown>;
  const extra = Object.keys(b).filter((k) => !FIELDS.includes(k));
  if (extra.length > 0)
    throw new InvalidError(`unknown field '${extra[0]!.slice(0, 32)}': expected ${FIELDS.join(", ")}`);
  for (const f of FIELDS) {
    if (b[f] !== undefined && typeof b[f] !== "string") throw new InvalidError(`${f} must be a string`);
  }
  if (!b.run) throw new InvalidError(`run is required: ${example}`);
  if ((b.run as string).length > 200) throw new InvalidError("run is longer than 200 characters");
  if (!b.stage) throw new InvalidError(`stage is required: ${example}`);
  if (b.decision !== "approve" && b.decision !== "reject")
    throw new InvalidError(`decision must be "approve" or "reject"`);
  return {
    run: b.run as string,
    stage: b.stage as string,
    decision: b.decision,
    user: b.user as string | undefined,
    comment: (b.comment as string) ?? "",
  };
}
