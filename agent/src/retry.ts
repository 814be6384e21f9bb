// The agent's one retry policy: every reconnect and restart loop waits by a Backoff
// (proto/src/backoff.ts: capped exponential, equal jitter), with the delays of
// each loop in BACKOFF below; `isRetryable` decides which failures of the agent's gRPC
// client are worth another try.
import type { BackoffOptions } from "@dockyard/proto";
import { RegistrationRefusedError } from "./transport/register";

export { Backoff, type BackoffOptions } from "@dockyard/proto";

/**
 * Every backoff of the agent. Jitter keeps a farm's agents from coming back in step after
 * a server restart.
 */
export const BACKOFF = {
  /** Register (or register again) with the server: it may be down or restarting. */
  register: { initialMs: 200, maxMs: 5000 },
  /** Restart the supervisor process after it exited; never reset (a crash loop stays slow). */
  supervisorRestart: { initialMs: 100, maxMs: 5000 },
  /** Reopen the shared AttemptStream that carries placements. */
  pushStream: { initialMs: 100, maxMs: 2000 },
  /** Reopen one attempt's channel on the AttemptStream. */
  attemptStream: { initialMs: 100, maxMs: 3000 },
} satisfies Record<string, BackoffOptions>;

/**
 * Whether a failed call of the agent's gRPC client is worth retrying: everything but the
 * server's explicit refusal of this agent (a bad join token, a revoked id, another protocol
 * version), which no retry changes. Transport failures (server down, TLS not yet up,
 * deadlines) all heal by themselves.
 */
export function isRetryable(err: unknown): boolean {
  return !(err instanceof RegistrationRefusedError);
}
