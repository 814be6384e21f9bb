// Reads one file (the pipeline) of a git repository at one commit, on the server, with the
// system `git` as the agents do (agent/src/docker/git-context.ts): a shallow fetch of that
// commit into a scratch directory, then `git cat-file`. Git never prompts, the whole read has
// a deadline, and URLs are shown without their user:password part.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PIPELINE_LIMITS } from "@dockyard/pipeline";
import { DockyardError, InvalidError } from "../errors";
import { redactUrl } from "./repo-store";

/** A pipeline file is small (the submit limit); a bigger blob is refused rather than read. */
export const MAX_PIPELINE_FILE_BYTES = PIPELINE_LIMITS.maxBytes;
export const GIT_READ_TIMEOUT_MS = 60_000;

/**
 * The text of `file` at `commit` of `url`. Throws InvalidError when the commit has no such
 * file (or it is too big), DockyardError `unavailable` when the repository cannot be fetched
 * (unreachable, no such commit on it, timeout): a redelivery may then work.
 */
export async function readFileAtCommit(
  url: string,
  commit: string,
  file: string,
  timeoutMs = GIT_READ_TIMEOUT_MS,
): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "dockyard-git-"));
  const signal = AbortSignal.timeout(timeoutMs);
  const shown = redactUrl(url);
  try {
    const git = (args: string[], maxBytes = 64 * 1024) => runGit(dir, args, signal, maxBytes);
    await git(["init", "-q"]);
    const shallow = await git(["fetch", "-q", "--no-tags", "--depth", "1", url, commit]).then(
      () => null,
      (err: Error) => err,
    );
    if (shallow) {
      if (signal.aborted) throw timedOut(shown, timeoutMs);
      // A server that will not hand out a commit by itself: fetch its branches and look there.
      const full = await git(["fetch", "-q", "--no-tags", url, "+refs/heads/*:refs/remotes/origin/*"]).then(
        () => null,
        (err: Error) => err,
      );
      if (full) {
        if (signal.aborted) throw timedOut(shown, timeoutMs);
        throw new DockyardError("unavailable", `could not fetch commit ${commit} from ${shown}: ${full.message}`);
      }
    }
    const object = `${commit}:${file}`;
    const size = await git(["cat-file", "-s", object]).catch(() => {
      throw new InvalidError(`the pipeline file '${file}' does not exist at commit ${commit} of ${shown}`);
    });
    if (Number(size.trim()) > MAX_PIPELINE_FILE_BYTES)
      throw new InvalidError(
        `the pipeline file '${file}' at commit ${commit} is ${size.trim()} bytes; the limit is ${MAX_PIPELINE_FILE_BYTES}`,
      );
    return await git(["cat-file", "blob", object], MAX_PIPELINE_FILE_BYTES + 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function timedOut(shown: string, ms: number): DockyardError {
  return new DockyardError("unavailable", `reading the pipeline from ${shown} took longer than ${ms} ms`);
}

/** Runs git in `cwd`; resolves its stdout, rejects with its last stderr line. */
function runGit(cwd: string, args: string[], signal: AbortSignal, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, {
      cwd,
      signal,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "", SSH_ASKPASS: "", LC_ALL: "C" },
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = "";
    child.stdout.on("data", (b: Buffer) => {
      if (outBytes < maxBytes) out.push(b);
      outBytes += b.length;
    });
    child.stderr.on("data", (b: Buffer) => {
      if (err.length < 4096) err += b.toString("utf8");
    });
    child.on("error", (e) => reject(e));
    child.on("close", (code) => {
      if (code === 0) return resolve(Buffer.concat(out).toString("utf8"));
      const last = redactUrl(err.trim().split("\n").pop() ?? "").slice(0, 300);
      reject(new Error(last || `git ${args[0]} exited with ${code}`));
    });
  });
}
