// RunService handlers for channels and notifications: bound, call NotifyService, encode.
import type * as grpc from "@grpc/grpc-js";
import {
  create,
  AddChannelResponseSchema,
  ChannelInfoSchema,
  DeliveryAttemptSchema,
  DeliverySchema,
  ListChannelsResponseSchema,
  ListNotificationsResponseSchema,
  RemoveChannelResponseSchema,
  RotateChannelKeyResponseSchema,
  TestChannelResponseSchema,
  type AddChannelRequest,
  type ChannelInfo as ChannelInfoMessage,
  type Delivery,
} from "@dockyard/proto";
import type { NotifyService, DeliveryView } from "../../notify/service";
import type { ChannelInfo } from "../../notify/channels";
import type { Actor } from "../../store/audit";

/** The run handlers' wrapper: the handler gets the request and the calling user as the audit log's actor. */
type Unary = <Req, Res>(fn: (req: Req, actor: Actor) => Promise<Res>) => grpc.handleUnaryCall<Req, Res>;

export function notifyHandlers(notify: NotifyService, unary: Unary) {
  return {
    addChannel: unary(async (req: AddChannelRequest, actor) => {
      const { info, key } = await notify.addChannel(
        {
          name: req.name,
          type: req.type,
          url: req.url || undefined,
          smtpUrl: req.smtpUrl || undefined,
          from: req.from || undefined,
          to: req.to,
          template: req.template || undefined,
          user: req.user || undefined,
          secret: req.secret.length > 0 ? req.secret : undefined,
          secretName: req.secretName || undefined,
        },
        actor,
      );
      return create(AddChannelResponseSchema, { channel: toChannelInfo(info), webhookKey: key ?? "" });
    }),
    listChannels: unary(async () =>
      create(ListChannelsResponseSchema, { channels: (await notify.listChannels()).map(toChannelInfo) }),
    ),
    removeChannel: unary(async (req: { name: string }, actor) => {
      await notify.removeChannel(req.name, actor);
      return create(RemoveChannelResponseSchema, {});
    }),
    testChannel: unary(async (req: { name: string }) =>
      create(TestChannelResponseSchema, { delivery: toDelivery(await notify.test(req.name)) }),
    ),
    rotateChannelKey: unary(async (req: { name: string; windowSeconds: number }, actor) => {
      const { key, previousValidUntil } = await notify.rotateKey(req.name, req.windowSeconds * 1000, actor);
      return create(RotateChannelKeyResponseSchema, {
        webhookKey: key,
        previousValidUntilMs: BigInt(previousValidUntil.getTime()),
      });
    }),
    listNotifications: unary(async (req: { channel: string; limit: number }) => {
      const views = await notify.notifications({ channel: req.channel || undefined, limit: req.limit || undefined });
      return create(ListNotificationsResponseSchema, { deliveries: views.map(toDelivery) });
    }),
  };
}

function toChannelInfo(c: ChannelInfo): ChannelInfoMessage {
  return create(ChannelInfoSchema, {
    name: c.name,
    type: c.type,
    target: c.target,
    createdAtMs: BigInt(c.createdAt.getTime()),
    disabledAtMs: BigInt(c.disabledAt?.getTime() ?? 0),
    disabledReason: c.disabledReason ?? "",
  });
}

function toDelivery(v: DeliveryView): Delivery {
  const r = v.row;
  return create(DeliverySchema, {
    id: r.id,
    channel: r.channel,
    event: r.event,
    runId: r.runId ?? "",
    subject: v.subject,
    state: r.state,
    attempts: r.attempts,
    createdAtMs: BigInt(r.createdAt.getTime()),
    nextAttemptAtMs: BigInt(r.state === "pending" ? r.nextAttemptAt.getTime() : 0),
    finishedAtMs: BigInt(r.finishedAt?.getTime() ?? 0),
    attemptHistory: v.attempts.map((a) =>
      create(DeliveryAttemptSchema, {
        number: a.number,
        atMs: BigInt(a.at.getTime()),
        result: a.result,
        statusCode: a.statusCode ?? 0,
        error: a.error ?? "",
        durationMs: a.durationMs,
      }),
    ),
  });
}
