// The part of a GitHub or GitLab push event Dockyard uses: the pushed ref and the commit it
// now points at. Other events (ping, issues, tag pushes, deleted branches) start nothing
// and say why.
import { InvalidError } from "../errors";
import type { PushStyle } from "./push-signature";

export type PushEvent = { kind: "push"; branch: string; commit: string } | { kind: "ignored"; reason: string };

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const ZERO = /^0+$/;

/** Parses the body of a verified delivery; InvalidError names what is wrong with it. */
export function parsePushEvent(style: PushStyle, event: string, contentType: string, text: string): PushEvent {
  if (style === "github" && event === "ping") return { kind: "ignored", reason: "ping: the hook is set up" };
  if (style === "github" && event !== "push") return { kind: "ignored", reason: `event '${event}' is not a push` };
  if (style === "gitlab" && event === "Tag Push Hook") return { kind: "ignored", reason: "a tag push starts no run" };
  if (style === "gitlab" && event !== "Push Hook")
    return { kind: "ignored", reason: `event '${event}' is not a Push Hook` };
  const body = parseJson(contentType, text);
  const ref = body.ref;
  if (typeof ref !== "string" || ref === "")
    throw new InvalidError("body field 'ref' must be a string (refs/heads/BRANCH)");
  if (ref.startsWith("refs/tags/"))
    return { kind: "ignored", reason: `${ref.slice(0, 100)} is a tag: a tag push starts no run` };
  if (!ref.startsWith("refs/heads/") || ref.length === "refs/heads/".length || ref.length > 266)
    throw new InvalidError(`body field 'ref' must be refs/heads/BRANCH, not '${ref.slice(0, 64)}'`);
  const branch = ref.slice("refs/heads/".length);
  const after = body.after;
  if (typeof after !== "string" || !SHA.test(after))
    throw new InvalidError("body field 'after' must be the pushed commit's full sha (40 or 64 lowercase hex digits)");
  if (body.deleted === true || ZERO.test(after)) return { kind: "ignored", reason: `branch '${branch}' was deleted` };
  return { kind: "push", branch, commit: after };
}

function parseJson(contentType: string, text: string): Record<string, unknown> {
  // GitHub's "application/x-www-form-urlencoded" content type sends the JSON as the `payload` field.
  let json = text;
  if (/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
    const payload = new URLSearchParams(text).get("payload");
    if (payload === null) throw new InvalidError("a form-encoded push must carry the event as its 'payload' field");
    json = payload;
  }
  let body: unknown;
  try {
    body = JSON.parse(json);
  } catch (err) {
    throw new InvalidError(`request body is not valid JSON: ${(err as Error).message.slice(0, 120)}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new InvalidError("request body must be a JSON object (a push event)");
  return body as Record<string, unknown>;
}
