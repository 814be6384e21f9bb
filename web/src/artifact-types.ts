// The public JSON shape of a stage artifact (GET /api/v1/runs/:id/artifacts); its bytes
// are GET /api/v1/artifacts/:id.
import { z } from "@hono/zod-openapi";

export const ArtifactViewSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    stage: z.string(),
    attempt: z.number().int(),
    name: z.string(),
    contentType: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Artifact");
export type ArtifactView = z.infer<typeof ArtifactViewSchema>;

/** One artifact's bytes and what the response says about them. */
export interface ArtifactContent {
  name: string;
  contentType: string;
  sha256: string;
  bytes: Uint8Array;
}
