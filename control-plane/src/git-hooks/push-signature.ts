// Who sent a push, and is it authentic: GitHub signs the raw body (`X-Hub-Signature-256:
// sha256=<hex HMAC-SHA256 with the secret>`), GitLab sends the secret itself
// (`X-Gitlab-Token`). Both compares are constant-time (timingSafeEqual over equal-length
// digests, so neither a length nor a common prefix leaks).
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { InvalidError, UnauthenticatedError } from "../errors";

export type PushStyle = "github" | "gitlab";

export interface VerifiedDelivery {
  style: PushStyle;
  /** X-GitHub-Event / X-Gitlab-Event. */
  event: string;
  /** X-GitHub-Delivery / X-Gitlab-Event-UUID. */
  delivery: string;
}

const MAX_DELIVERY_ID = 128;

/** Refuses (401) a push that is not signed, or not with `secret`; then checks its event and delivery headers (400). */
export function verifyDelivery(
  repo: string,
  secret: string,
  headers: Record<string, string>,
  body: string,
): VerifiedDelivery {
  const style = styleOf(headers);
  if (style === "github") {
    const sig = headers["x-hub-signature-256"];
    if (sig === undefined)
      throw new UnauthenticatedError(
        `push to '${repo}' refused: X-Hub-Signature-256 is missing (set the webhook's Secret to the one dockyard repos add printed)`,
      );
    const m = /^sha256=([0-9a-f]{64})$/i.exec(sig.trim());
    if (!m) throw new UnauthenticatedError("push refused: X-Hub-Signature-256 must be 'sha256=' and 64 hex digits");
    const expected = createHmac("sha256", secret).update(body, "utf8").digest();
    if (!timingSafeEqual(Buffer.from(m[1]!.toLowerCase(), "hex"), expected))
      throw new UnauthenticatedError(
        `push to '${repo}' refused: X-Hub-Signature-256 does not match the body (wrong secret, or the body changed)`,
      );
  } else {
    const token = headers["x-gitlab-token"];
    if (token === undefined)
      throw new UnauthenticatedError(
        `push to '${repo}' refused: X-Gitlab-Token is missing (set the webhook's Secret token to the one dockyard repos add printed)`,
      );
    const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
    if (!timingSafeEqual(digest(token), digest(secret)))
      throw new UnauthenticatedError(`push to '${repo}' refused: X-Gitlab-Token is not this repository's secret`);
  }
  const eventHeader = style === "github" ? "X-GitHub-Event" : "X-Gitlab-Event";
  const idHeader = style === "github" ? "X-GitHub-Delivery" : "X-Gitlab-Event-UUID";
  const event = headers[eventHeader.toLowerCase()];
  if (!event) throw new InvalidError(`${eventHeader} is required`);
  const delivery = headers[idHeader.toLowerCase()];
  if (!delivery) throw new InvalidError(`${idHeader} is required: it is how a replayed delivery is refused`);
  if (delivery.length > MAX_DELIVERY_ID || !/^[A-Za-z0-9._:-]+$/.test(delivery))
    throw new InvalidError(`${idHeader} must be 1-${MAX_DELIVERY_ID} of A-Z a-z 0-9 . _ : -`);
  return { style, event: event.slice(0, 64), delivery };
}

function styleOf(headers: Record<string, string>): PushStyle {
  const github = headers["x-hub-signature-256"] !== undefined || headers["x-github-event"] !== undefined;
  const gitlab = headers["x-gitlab-token"] !== undefined || headers["x-gitlab-event"] !== undefined;
  if (github && gitlab)
    throw new InvalidError("send either GitHub (X-GitHub-*) or GitLab (X-Gitlab-*) headers, not both");
  if (github) return "github";
  if (gitlab) return "gitlab";
  throw new UnauthenticatedError(
    "push refused: not signed (GitHub: X-Hub-Signature-256 with X-GitHub-Event; GitLab: X-Gitlab-Token with X-Gitlab-Event)",
  );
}
