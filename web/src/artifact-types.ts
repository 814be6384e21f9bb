// The public JSON shape of a stage artifact (GET /api/v1/runs/:id/artifacts); its bytes
// are GET /api/v1/artifacts/:id.

export interface ArtifactView {
  id: string;
  runId: string;
  stage: string;
  attempt: number;
  name: string;
  contentType: string;
  size: number;
  sha256: string;
  createdAt: string;
}

/** One artifact's bytes and what the response says about them. */
export interface ArtifactContent {
  name: string;
  contentType: string;
  sha256: string;
  bytes: Uint8Array;
}
