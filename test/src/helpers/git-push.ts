// Git push webhooks for tests: a local repository served over file:// (as delivery-git does),
// and GitHub- and GitLab-style push deliveries to POST /hooks/v1/git/NAME.
import { execFileSync } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tempDir } from "@dockyard/testkit";
import type { Farm } from "./farm";

/** `git` in `dir` with a fixed identity (no global config needed), returning its stdout. */
export function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Dockyard Test", "-c", "user.email=test@dockyard.invalid", ...args], {
    cwd: dir,
    encoding: "utf8",
  }).trim();
}

export interface PushRepo {
  dir: string;
  url: string;
  /** Commit on `main` whose version.txt says "first build". */
  first: string;
  /** HEAD of `main` ("second build"). */
  head: string;
}

/** A repository on `main` with two commits; `files` (path -> text) are in both. */
export function makePushRepo(files: Record<string, string>): PushRepo {
  const dir = tempDir("git-push");
  git(dir, "init", "-q", "-b", "main");
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  writeFileSync(path.join(dir, "version.txt"), "first build\n");
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", "first");
  const first = git(dir, "rev-parse", "HEAD");
  writeFileSync(path.join(dir, "version.txt"), "second build\n");
  git(dir, "commit", "-q", "-am", "second");
  return { dir, url: `file://${dir}`, first, head: git(dir, "rev-parse", "HEAD") };
}

/** A GitHub push event body (the fields Dockyard reads, and a few it does not). */
export function githubPush(branch: string, after: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ref: `refs/heads/${branch}`,
    before: "0".repeat(40),
    after,
    deleted: false,
    repository: { full_name: "acme/app" },
    pusher: { name: "octocat" },
    ...extra,
  });
}

/** A GitLab Push Hook body. */
export function gitlabPush(branch: string, after: string): string {
  return JSON.stringify({
    object_kind: "push",
    ref: `refs/heads/${branch}`,
    before: "0".repeat(40),
    after,
    checkout_sha: after,
  });
}

export const hubSignature = (secret: string, body: string) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

export interface PushAnswer {
  status: number;
  body: {
    error?: { code: string; message: string };
    ignored?: string | null;
    branch?: string | null;
    commit?: string | null;
    run?: { id: string; branch: string | null; commit: string | null } | null;
  };
}

/** POSTs `body` to the repository's hook with exactly `headers`. */
export async function postPush(
  farm: Farm,
  repo: string,
  body: string,
  headers: Record<string, string>,
): Promise<PushAnswer> {
  const res = await fetch(`${farm.server.httpUrl}/hooks/v1/git/${repo}`, { method: "POST", headers, body }).catch(
    (err: Error) => {
      throw new Error(`POST /hooks/v1/git/${repo}: ${err.message} (${String(err.cause)})`, { cause: err });
    },
  );
  return { status: res.status, body: (await res.json()) as PushAnswer["body"] };
}

/** A GitHub-style delivery: signed with `secret` (or `opts.signature`), a fresh delivery id unless given. */
export function sendGithub(
  farm: Farm,
  repo: string,
  secret: string,
  body: string,
  opts: { delivery?: string; event?: string; signature?: string | null } = {},
): Promise<PushAnswer> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-github-event": opts.event ?? "push",
    "x-github-delivery": opts.delivery ?? randomUUID(),
  };
  const signature = opts.signature === undefined ? hubSignature(secret, body) : opts.signature;
  if (signature !== null) headers["x-hub-signature-256"] = signature;
  return postPush(farm, repo, body, headers);
}

/** A GitLab-style delivery carrying `token`. */
export function sendGitlab(
  farm: Farm,
  repo: string,
  token: string | null,
  body: string,
  opts: { delivery?: string; event?: string } = {},
): Promise<PushAnswer> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-gitlab-event": opts.event ?? "Push Hook",
    "x-gitlab-event-uuid": opts.delivery ?? randomUUID(),
  };
  if (token !== null) headers["x-gitlab-token"] = token;
  return postPush(farm, repo, body, headers);
}

/** The secret `dockyard repos add` printed. */
export function secretFrom(stdout: string): string {
  const m = /secret \(shown once; GitHub: Secret, GitLab: Secret token\): ([0-9a-f]{64})\n/.exec(stdout);
  if (!m) throw new Error(`no secret in: ${stdout}`);
  return m[1]!;
}
