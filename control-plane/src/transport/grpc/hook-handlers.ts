// RunService handlers for incoming decision webhooks (`dockyard hooks add|list|rm`): admin only
// (the access table); the key is answered once, by AddHook, and never again.
import type { Logger } from "pino";
import {
  create,
  AddHookResponseSchema,
  HookInfoSchema,
  ListHooksResponseSchema,
  RemoveHookResponseSchema,
  type RunService,
  type ServiceHandlers,
} from "@dockyard/proto";
import type { Clock } from "../../clock";
import type { HookInfo, HookStore } from "../../hooks/hook-store";
import { InvalidError } from "../../errors";
import { actorOf } from "./caller";
import { userUnary } from "./user-unary";

type All = ServiceHandlers<(typeof RunService)["method"]>;
export type HookHandlers = Pick<All, "addHook" | "listHooks" | "removeHook">;

export function hookHandlers(hooks: HookStore, clock: Clock, log: Logger): HookHandlers {
  const unary = userUnary(log);
  return {
    addHook: unary(async (req, caller) => {
      if (req.user.length > 64) throw new InvalidError("user is longer than 64 characters");
      const { info, key } = await hooks.add(req.name, req.user, actorOf(caller), clock.now());
      return create(AddHookResponseSchema, { hook: toHookInfo(info), key });
    }),
    listHooks: unary(async () => create(ListHooksResponseSchema, { hooks: (await hooks.list()).map(toHookInfo) })),
    removeHook: unary(async (req, caller) => {
      await hooks.remove(req.name, actorOf(caller), clock.now());
      return create(RemoveHookResponseSchema, {});
    }),
  };
}

function toHookInfo(h: HookInfo) {
  return create(HookInfoSchema, { name: h.name, user: h.user, createdAtMs: BigInt(h.createdAt.getTime()) });
}
