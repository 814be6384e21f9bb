// One git push: `POST /hooks/v1/git/:name`. The request carries no API token; its signature
// (GitHub) or token (GitLab) is the credential, so everything is checked here, in this
// order, before anything starts:
//   1. the repository is registered (401), 2. the signature or token (401), 3. the event and
//   delivery id headers (400), 4. the delivery id was not received before (409: a replay,
//   also one sent to another replica), 5. the body (400), 6. the event: a ping, a tag, a
//   deleted branch or a branch the registration does not match start nothing (202, saying why),
//   7. the pipeline file at the pushed commit, which is then submitted with
//   `source: { git: URL, ref: COMMIT }` and the run attributes branch and commit.
import { and, eq, lt, sql } from "drizzle-orm";
import { parseDocument } from "yaml";
import type { Db } from "../store/db";
import { gitDeliveries } from "../store/schema";
import { ConflictError, DockyardError, InvalidError, UnauthenticatedError } from "../errors";
import type { Clock } from "../clock";
import type { Actor } from "../store/audit";
import type { RunsService } from "../runs-service";
import type { RepoInfo, RepoStore } from "./repo-store";
import { verifyDelivery } from "./push-signature";
import { parsePushEvent } from "./push-event";
import { branchMatches } from "./branch-glob";
import { readFileAtCommit } from "./pipeline-at-commit";

/** How long a delivery id is remembered. Push events carry no signed timestamp, so this is long. */
export const GIT_DELIVERY_KEEP_MS = 30 * 24 * 3600_000;

export interface GitPushDeps {
  db: Db;
  repos: RepoStore;
  clock: Clock;
  runs: Pick<RunsService, "submit">;
  /** The pipeline file at a commit (default: readFileAtCommit, with the system git). */
  readFile?: (url: string, commit: string, file: string) => Promise<string>;
}

export interface GitPushRequest {
  repo: string;
  headers: Record<string, string>;
  body: string;
}

export interface GitPushResult {
  repo: string;
  delivery: string;
  ignored: string | null;
  branch: string | null;
  commit: string | null;
  runId: string | null;
}

export async function receiveGitPush(deps: GitPushDeps, req: GitPushRequest): Promise<GitPushResult> {
  const found = await deps.repos.lookup(req.repo);
  if (!found) throw new UnauthenticatedError(`unknown repository '${req.repo.slice(0, 64)}' (see dockyard repos list)`);
  const { style, event, delivery } = verifyDelivery(found.info.name, found.secret, req.headers, req.body);
  await rememberDelivery(deps, found.info.name, delivery);
  try {
    const result = await startRun(deps, found.info, style, event, req);
    if (result.runId) await noteRun(deps, found.info.name, delivery, result.runId);
    return { repo: found.info.name, delivery, ...result };
  } catch (err) {
    // A refusal (bad body, no pipeline file, invalid pipeline) spends the id: it would be refused again.
    // A failure of ours or of the git server frees it, so the sender's redelivery works.
    const code = (err as { code?: unknown }).code;
    if (!(err instanceof DockyardError) || code === "unavailable" || code === "internal")
      await forgetDelivery(deps, found.info.name, delivery).catch(() => undefined);
    throw err;
  }
}

async function startRun(
  deps: GitPushDeps,
  repo: RepoInfo,
  style: "github" | "gitlab",
  event: string,
  req: GitPushRequest,
): Promise<Omit<GitPushResult, "repo" | "delivery">> {
  const push = parsePushEvent(style, event, req.headers["content-type"] ?? "", req.body);
  if (push.kind === "ignored") return { ignored: push.reason, branch: null, commit: null, runId: null };
  const { branch, commit } = push;
  if (!branchMatches(repo.branchGlob, branch))
    return { ignored: `branch '${branch}' does not match '${repo.branchGlob}'`, branch, commit, runId: null };
  const readFile = deps.readFile ?? readFileAtCommit;
  const text = await readFile(repo.url, commit, repo.pipelinePath);
  const yaml = atCommit(text, repo, commit);
  const actor: Actor = { kind: "server", name: `repo:${repo.name}` };
  const run = await deps.runs.submit(
    yaml,
    `git:${repo.name}:${repo.pipelinePath}`,
    repo.name,
    { commit, branch },
    actor,
  );
  return { ignored: null, branch, commit, runId: run.id };
}

/** The pipeline file with its `source:` set to the registered repository at the pushed commit (comments kept). */
function atCommit(text: string, repo: RepoInfo, commit: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || doc.contents === null || typeof doc.contents !== "object" || !("set" in doc.contents))
    throw new InvalidError(
      `the pipeline file '${repo.pipelinePath}' at commit ${commit} is not a YAML mapping${doc.errors[0] ? `: ${doc.errors[0].message.split("\n")[0]}` : ""}`,
    );
  const source = doc.createNode({ git: repo.url, ref: commit });
  source.flow = true;
  doc.set("source", source);
  return doc.toString();
}

/** Records the delivery id, once: a second request with it (a replay, or the same delivery at another replica) is refused. */
async function rememberDelivery(deps: GitPushDeps, repo: string, id: string): Promise<void> {
  const now = deps.clock.now();
  await deps.db.delete(gitDeliveries).where(lt(gitDeliveries.seenAt, new Date(now.getTime() - GIT_DELIVERY_KEEP_MS)));
  const inserted = await deps.db
    .insert(gitDeliveries)
    .values({ repo, deliveryId: id, seenAt: now })
    .onConflictDoNothing()
    .returning({ one: sql<number>`1` });
  if (inserted.length === 0)
    throw new ConflictError(`delivery '${id.slice(0, 64)}' was already received: a replayed delivery is refused`);
}

async function noteRun(deps: GitPushDeps, repo: string, id: string, runId: string): Promise<void> {
  await deps.db
    .update(gitDeliveries)
    .set({ runId })
    .where(and(eq(gitDeliveries.repo, repo), eq(gitDeliveries.deliveryId, id)));
}

async function forgetDelivery(deps: GitPushDeps, repo: string, id: string): Promise<void> {
  await deps.db.delete(gitDeliveries).where(and(eq(gitDeliveries.repo, repo), eq(gitDeliveries.deliveryId, id)));
}
