// Reading stage artifacts, shared by the gRPC and HTTP edges: a run named the way every
// other call names one (id, prefix, PIPELINE#N), a stage by its name (unknown ones answer
// not_found listing the run's stages), an artifact by its id.
import type { Db } from "./store/db";
import type { RunWithStages } from "./store/runs";
import { listArtifacts, readArtifact, type ArtifactInfo } from "./store/artifacts";
import { stageNamed } from "./stage-lookup";

export class ArtifactsApi {
  constructor(
    private readonly db: Db,
    private readonly runs: { get(ref: string): Promise<RunWithStages> },
  ) {}

  /** The run's artifacts, or one stage's (`stage` non-empty). */
  async list(runRef: string, stage?: string): Promise<ArtifactInfo[]> {
    const run = await this.runs.get(runRef);
    if (stage) stageNamed(run, stage);
    return listArtifacts(this.db, run.id, stage || undefined);
  }

  get(id: string): Promise<ArtifactInfo & { bytes: Buffer }> {
    return readArtifact(this.db, id);
  }
}
