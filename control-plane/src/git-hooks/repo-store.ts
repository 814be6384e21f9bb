// Git repositories registered for push webhooks (`dockyard repos add|list|rm`). Each has a
// webhook secret made here, shown once, and kept sealed in the secret store as
// `repo.<name>.secret`, like the decision hooks' keys (hooks/hook-store.ts).
import { randomBytes } from "node:crypto";
import { asc, eq } from "drizzle-orm";
import type { Db } from "../store/db";
import { gitDeliveries, gitRepos } from "../store/schema";
import { ConflictError, InvalidError, NotFoundError } from "../errors";
import type { SecretStore } from "../secrets/secret-store";
import { audit, type Actor } from "../store/audit";
import { checkBranchGlob } from "./branch-glob";

export const REPO_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
const MAX_URL = 500;
const MAX_PATH = 300;

export interface RepoInfo {
  name: string;
  /** Clone URL as registered (may hold credentials: show it through redactUrl). */
  url: string;
  pipelinePath: string;
  /** '' = every branch. */
  branchGlob: string;
  createdAt: Date;
}

export interface RepoInput {
  name: string;
  url: string;
  pipelinePath: string;
  branchGlob: string;
}

const secretName = (repo: string) => `repo.${repo}.secret`;

/** The URL without its user:password part, for messages and listings. */
export function redactUrl(url: string): string {
  return url.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, "$1***@");
}

/** Every problem of a registration, by field, as the CLI and the API name them. */
export function checkRepoInput(input: RepoInput): RepoInput {
  if (!REPO_NAME_PATTERN.test(input.name))
    throw new InvalidError(
      `invalid repository name '${input.name.slice(0, 64)}': use 1-40 of A-Z a-z 0-9 . _ - starting with a letter or digit`,
    );
  if (!input.url) throw new InvalidError("--git URL is required: the repository's clone URL");
  if (input.url.length > MAX_URL || !/^(file|https?):\/\/\S+$/i.test(input.url))
    throw new InvalidError(
      `invalid --git URL '${redactUrl(input.url).slice(0, 80)}': use a file://, http:// or https:// clone URL of at most ${MAX_URL} characters`,
    );
  const p = input.pipelinePath;
  if (!p) throw new InvalidError("--pipeline PATH is required: the pipeline file's path inside the repository");
  if (
    p.length > MAX_PATH ||
    p.startsWith("/") ||
    p.includes("\\") ||
    p.split("/").some((seg) => seg === ".." || seg === "." || seg === "") ||
    /[\x00-\x1f\x7f:]/.test(p)
  )
    throw new InvalidError(
      `invalid --pipeline '${p.slice(0, 80)}': a relative path inside the repository (no '..', no leading '/', at most ${MAX_PATH} characters)`,
    );
  checkBranchGlob(input.branchGlob);
  return input;
}

export class RepoStore {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretStore,
  ) {}

  /** Registers the repository; returns its webhook secret (shown once, never again). */
  async add(input: RepoInput, actor: Actor, now: Date): Promise<{ info: RepoInfo; secret: string }> {
    checkRepoInput(input);
    const inserted = await this.db
      .insert(gitRepos)
      .values({
        name: input.name,
        url: input.url,
        pipelinePath: input.pipelinePath,
        branchGlob: input.branchGlob,
        secretRef: secretName(input.name),
        createdAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (inserted.length === 0)
      throw new ConflictError(
        `repository '${input.name}' already exists (remove it first: dockyard repos rm ${input.name})`,
      );
    const secret = randomBytes(32).toString("hex");
    try {
      await this.secrets.set(secretName(input.name), Buffer.from(secret), now, actor);
    } catch (err) {
      await this.db.delete(gitRepos).where(eq(gitRepos.name, input.name));
      throw err;
    }
    await audit(this.db, {
      actor,
      action: "repo.created",
      target: input.name,
      details: { url: redactUrl(input.url), pipeline: input.pipelinePath, branch: input.branchGlob },
      at: now,
    });
    return { info: { ...input, createdAt: now }, secret };
  }

  async list(): Promise<RepoInfo[]> {
    return this.db
      .select({
        name: gitRepos.name,
        url: gitRepos.url,
        pipelinePath: gitRepos.pipelinePath,
        branchGlob: gitRepos.branchGlob,
        createdAt: gitRepos.createdAt,
      })
      .from(gitRepos)
      .orderBy(asc(gitRepos.name));
  }

  /** Deletes the registration, its secret and its seen deliveries: its next push is refused as unknown. */
  async remove(name: string, actor: Actor, now: Date): Promise<void> {
    if (!REPO_NAME_PATTERN.test(name)) throw new InvalidError(`invalid repository name '${name.slice(0, 64)}'`);
    const [row] = await this.db.delete(gitRepos).where(eq(gitRepos.name, name)).returning();
    if (!row) throw new NotFoundError("repository", name);
    await this.secrets.remove(row.secretRef, now, actor).catch(() => undefined);
    await this.db.delete(gitDeliveries).where(eq(gitDeliveries.repo, name));
    await audit(this.db, { actor, action: "repo.removed", target: name, at: now });
  }

  /** The registration and its secret, or null for an unknown repository. */
  async lookup(name: string): Promise<{ info: RepoInfo; secret: string } | null> {
    if (!REPO_NAME_PATTERN.test(name)) return null;
    const [row] = await this.db.select().from(gitRepos).where(eq(gitRepos.name, name));
    if (!row) return null;
    const secret = (await this.secrets.value(row.secretRef)).toString("utf8");
    const { secretRef: _ref, ...info } = row;
    return { info, secret };
  }
}
