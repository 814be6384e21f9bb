// Stage artifacts to their proto message (the bytes travel beside it, in GetArtifactResponse).
import { create, ArtifactSchema, type Artifact } from "@dockyard/proto";
import type { ArtifactInfo } from "../store/artifacts";

export function toArtifact(a: ArtifactInfo): Artifact {
  return create(ArtifactSchema, {
    id: a.id,
    runId: a.runId,
    stage: a.stage,
    attemptId: a.attemptId,
    attemptNumber: a.attemptNumber,
    name: a.name,
    contentType: a.contentType,
    size: BigInt(a.size),
    sha256: a.sha256,
    createdAtMs: BigInt(a.createdAt.getTime()),
  });
}
