// A first start with no API token configured: the server makes one for the `admin` user and
// leaves it in its data directory, so the operator (and the demo) can log in.
import { mkdirSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import type { Database } from "./store/db";
import { ensureApiToken, countApiTokens } from "./store/tokens";
import { ensureAdminUser } from "./store/users";
import { newSecret } from "./ids";

/**
 * With no API token configured and none stored, create one for the `admin` user and keep it in the data dir (mode
 * 0600).
 */
export async function bootstrapApiToken(db: Database, dataDir: string, log: Logger, now: Date): Promise<void> {
  if ((await countApiTokens(db.db)) > 0) return;
  const file = path.join(dataDir, "api-token");
  const token = existsSync(file) ? readFileSync(file, "utf8").trim() : newSecret("dya_");
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  await ensureApiToken(db.db, token, await ensureAdminUser(db.db, now), "bootstrap", now);
  log.warn({ file }, "no API token configured; generated one");
}
