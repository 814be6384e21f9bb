// Stage artifacts on the agent: files an attempt stores on the server (a failed journey's
// screenshot, the files a command stage leaves in $DOCKYARD_ARTIFACTS), sent with
// UploadArtifact under the attempt's lease. The server checks the bounds again and refuses
// an agent that does not hold the attempt; the checks here only spare a doomed upload.
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { Backoff, MAX_ARTIFACT_BYTES, artifactNameProblem, contentTypeProblem, type Assignment } from "@dockyard/proto";
import type { AgentClient } from "../transport/agent-client";
import { AgentError } from "../errors";

/** Tries of one upload when the server is unreachable (an upload is idempotent: retrying is safe). */
const UPLOAD_TRIES = 4;
const UPLOAD_TIMEOUT_MS = 30_000;
const RETRY_BACKOFF = { initialMs: 200, maxMs: 2000 };

/** An upload the agent or the server refused; the message names the problem. */
export class ArtifactError extends AgentError<"artifact_refused"> {
  constructor(message: string, options?: { cause?: unknown }) {
    super("artifact_refused", message, options);
  }
}

export interface StageArtifacts {
  /** Store `data` as artifact `name` of the attempt; returns the artifact id. Throws ArtifactError when refused. */
  upload(a: Assignment, name: string, contentType: string, data: Uint8Array): Promise<string>;
}

export class AgentArtifacts implements StageArtifacts {
  constructor(private readonly client: () => AgentClient) {}

  async upload(a: Assignment, name: string, contentType: string, data: Uint8Array): Promise<string> {
    const problem =
      artifactNameProblem(name) ??
      contentTypeProblem(contentType) ??
      (data.length > MAX_ARTIFACT_BYTES
        ? `artifact '${name}' has ${data.length} bytes; the limit is ${MAX_ARTIFACT_BYTES} (10 MiB)`
        : null);
    if (problem) throw new ArtifactError(problem);
    const backoff = new Backoff(RETRY_BACKOFF);
    for (let tried = 1; ; tried++) {
      try {
        const res = await this.client().uploadArtifact(
          { attemptId: a.attemptId, leaseId: a.leaseId, name, contentType, data },
          { timeoutMs: UPLOAD_TIMEOUT_MS },
        );
        return res.artifactId;
      } catch (err) {
        const code = (err as { code?: number }).code;
        const transient = code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED;
        if (!transient || tried >= UPLOAD_TRIES)
          throw new ArtifactError(
            `artifact '${name}' was not stored: ${(err as { details?: string }).details || (err as Error).message}`,
            {
              cause: err,
            },
          );
        await sleep(backoff.next());
      }
    }
  }
}
