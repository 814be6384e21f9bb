// RunService handlers for git repositories whose pushes start runs (`dockyard repos
// add|list|rm`): add and remove are admin only (the access table); the webhook secret is
// answered once, by AddRepo, and never again. Listings show URLs without credentials.
import type { Logger } from "pino";
import {
  create,
  AddRepoResponseSchema,
  RepoInfoSchema,
  ListReposResponseSchema,
  RemoveRepoResponseSchema,
  type RunService,
  type ServiceHandlers,
} from "@dockyard/proto";
import type { Clock } from "../../clock";
import { redactUrl, type RepoInfo, type RepoStore } from "../../git-hooks/repo-store";
import { actorOf } from "./caller";
import { userUnary } from "./user-unary";

type All = ServiceHandlers<(typeof RunService)["method"]>;
export type RepoHandlers = Pick<All, "addRepo" | "listRepos" | "removeRepo">;

export function repoHandlers(repos: RepoStore, clock: Clock, log: Logger): RepoHandlers {
  const unary = userUnary(log);
  return {
    addRepo: unary(async (req, caller) => {
      const { info, secret } = await repos.add(
        { name: req.name, url: req.url, pipelinePath: req.pipeline, branchGlob: req.branch },
        actorOf(caller),
        clock.now(),
      );
      return create(AddRepoResponseSchema, { repo: toRepoInfo(info), secret });
    }),
    listRepos: unary(async () => create(ListReposResponseSchema, { repos: (await repos.list()).map(toRepoInfo) })),
    removeRepo: unary(async (req, caller) => {
      await repos.remove(req.name, actorOf(caller), clock.now());
      return create(RemoveRepoResponseSchema, {});
    }),
  };
}

function toRepoInfo(r: RepoInfo) {
  return create(RepoInfoSchema, {
    name: r.name,
    url: redactUrl(r.url),
    pipeline: r.pipelinePath,
    branch: r.branchGlob,
    createdAtMs: BigInt(r.createdAt.getTime()),
  });
}
