// RunService handlers for users, API tokens, the audit log and WhoAmI. The access guard
// (guard.ts) has already checked the caller's role; these decode, act as the caller, encode.
import type { Logger } from "pino";
import {
  create,
  AddUserResponseSchema,
  ListUsersResponseSchema,
  DisableUserResponseSchema,
  CreateApiTokenResponseSchema,
  RevokeApiTokenResponseSchema,
  ListAuditResponseSchema,
  WhoAmIResponseSchema,
  UserSchema,
  AuditEntrySchema,
  type RunService,
  type ServiceHandlers,
} from "@dockyard/proto";
import type { Db } from "../../store/db";
import type { Clock } from "../../clock";
import { addUser, disableUser, listUsers, type UserInfo } from "../../store/users";
import { createApiToken, revokeApiToken } from "../../store/tokens";
import { auditPage } from "../../store/audit";
import { InvalidError } from "../../errors";
import { actorOf } from "./caller";
import { userUnary } from "./user-unary";

type All = ServiceHandlers<(typeof RunService)["method"]>;
export type UserHandlers = Pick<
  All,
  "addUser" | "listUsers" | "disableUser" | "createApiToken" | "revokeApiToken" | "listAudit" | "whoAmI"
>;

const UUID = /^[0-9a-f-]{36}$/;

export function userHandlers(db: Db, clock: Clock, log: Logger): UserHandlers {
  const unary = userUnary(log);

  return {
    addUser: unary(async (req, caller) =>
      create(AddUserResponseSchema, {
        user: toUser(await addUser(db, req.name, req.roles, actorOf(caller), clock.now())),
      }),
    ),
    listUsers: unary(async () => create(ListUsersResponseSchema, { users: (await listUsers(db)).map(toUser) })),
    disableUser: unary(async (req, caller) => {
      await disableUser(db, req.name, actorOf(caller), clock.now());
      return create(DisableUserResponseSchema, {});
    }),
    createApiToken: unary(async (req, caller) => {
      if (req.user === "") throw new InvalidError("user is required: the token acts with that user's roles");
      if (req.description.length > 200) throw new InvalidError("description is longer than 200 characters");
      return create(
        CreateApiTokenResponseSchema,
        await createApiToken(db, req.user, req.description, actorOf(caller), clock.now()),
      );
    }),
    revokeApiToken: unary(async (req, caller) => {
      if (!UUID.test(req.id)) throw new InvalidError(`API token id must be a UUID, got '${req.id.slice(0, 64)}'`);
      await revokeApiToken(db, req.id, actorOf(caller), clock.now());
      return create(RevokeApiTokenResponseSchema, {});
    }),
    listAudit: unary(async (req) => {
      const rows = await auditPage(db, {
        limit: req.limit,
        beforeId: req.beforeId > BigInt(Number.MAX_SAFE_INTEGER) ? NaN : Number(req.beforeId),
      });
      return create(ListAuditResponseSchema, {
        entries: rows.map((r) =>
          create(AuditEntrySchema, {
            id: BigInt(r.id),
            atMs: BigInt(r.at.getTime()),
            actor: r.actor,
            action: r.action,
            target: r.target,
            detailsJson: JSON.stringify(r.details),
          }),
        ),
      });
    }),
    whoAmI: unary(async (_req, caller) => create(WhoAmIResponseSchema, { user: caller.user, roles: caller.roles })),
  };
}

function toUser(u: UserInfo) {
  return create(UserSchema, {
    name: u.name,
    roles: u.roles,
    createdAtMs: BigInt(u.createdAt.getTime()),
    disabledAtMs: u.disabledAt ? BigInt(u.disabledAt.getTime()) : 0n,
    activeTokens: u.activeTokens,
  });
}
