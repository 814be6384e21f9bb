// Who is calling the API: one function for every entry point (gRPC, HTTP) that needs a
// user (a run's starter, an approval's decider). For now an API token stands for its user:
// the token's description (or its id when it has none), with role `admin`. The users and
// roles work replaces this body; its callers stay as they are.
import { eq } from "drizzle-orm";
import type { Db } from "../../store/db";
import { apiTokens } from "../../store/schema";

export interface Caller {
  user: string;
  roles: string[];
}

/** The caller behind an authenticated API token id. */
export async function callerOf(db: Db, tokenId: string): Promise<Caller> {
  const [row] = await db.select({ description: apiTokens.description }).from(apiTokens).where(eq(apiTokens.id, tokenId));
  return { user: row?.description.trim() || tokenId, roles: ["admin"] };
}
