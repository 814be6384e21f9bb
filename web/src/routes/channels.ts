// Notification channels and their deliveries: `GET /channels` (viewer), `POST /channels`,
// `DELETE /channels/:name`, `POST /channels/:name/test`, `POST /channels/:name/rotate`
// (admin) and `GET /notifications?channel=NAME&limit=N` (viewer). The same operations as the
// gRPC channel methods (the server's NotifyService checks names, targets and bounds for both
// edges; every change is audited with the caller); here the request's shape is checked. No
// answer carries a credential: a webhook's signing key, which the server makes, is answered
// once, by the add or rotate that made it (as `dockyard channels add|rotate` prints it).
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, NewChannelInput, WebServices } from "../types";
import { ChannelViewSchema, NotificationViewSchema } from "../channel-types";
import { DEFAULT_NOTIFICATIONS_LIMIT, MAX_NOTIFICATIONS_LIMIT, MAX_ROTATION_WINDOW_SECONDS } from "../limits";
import { smallBody } from "./input";
import {
  bodyObject,
  nameParam,
  optionalString,
  queryObject,
  requiredString,
  stringList,
  textQuery,
  wholeField,
  wholeQuery,
} from "./fields";
import { AUTH_ERRORS, BEARER, documentedBody, errorResponses, jsonBody, jsonResponse } from "./validate";

/** Text fields, recipients and the credential are bounded by the service; this bounds the request as a whole. */
const MAX_CHANNEL_BODY_BYTES = 256 * 1024;
const MAX_ROTATE_BODY_BYTES = 8 * 1024;
const MAX_CHANNEL_NAME = 40;
/** Generous outer bounds; the service's own (4096 characters, 20 recipients, 64 KiB credential) are checked after. */
const MAX_TEXT = 8192;
const MAX_SECRET = 128 * 1024;
const MAX_TO = 64;
const CHANNEL_SHAPE = '{ "name": "ops", "type": "webhook", "url": "https://..." } (see the README for email and sms)';

export const NewChannelSchema = bodyObject({
  name: requiredString("name", MAX_TEXT),
  type: requiredString("type", MAX_TEXT).openapi({ description: "email | sms | webhook" }),
  url: optionalString("url", MAX_TEXT),
  smtpUrl: optionalString("smtpUrl", MAX_TEXT),
  from: optionalString("from", MAX_TEXT),
  to: stringList("to", MAX_TO, MAX_TEXT),
  template: optionalString("template", MAX_TEXT),
  user: optionalString("user", MAX_TEXT),
  secret: optionalString("secret", MAX_SECRET).openapi({
    description: "The SMTP password or SMS token, stored sealed and never answered.",
  }),
  secretName: optionalString("secretName", MAX_TEXT).openapi({
    description: "Or the name of a secret already in the store holding it.",
  }),
});
const RotateSchema = bodyObject({ windowSeconds: wholeField("windowSeconds", 0, MAX_ROTATION_WINDOW_SECONDS) });
const EmptyBodySchema = bodyObject({});
const ChannelParams = z.object({ name: nameParam("channel name", MAX_CHANNEL_NAME) });
const KeyAnswer = { webhookKey: z.string().describe("A webhook's signing key, answered this once.") };
const tags = ["channels"];

/** The service's input: empty optional strings are left out, as if absent. */
function channelInput(body: z.infer<typeof NewChannelSchema>): NewChannelInput {
  const input: NewChannelInput = { name: body.name, type: body.type };
  for (const field of ["url", "smtpUrl", "from", "template", "user", "secretName", "secret"] as const) {
    const value = body[field];
    if (value !== undefined && value !== "") input[field] = value;
  }
  if (body.to !== undefined) input.to = body.to;
  return input;
}

function routes(api: OpenAPIHono<AppEnv>) {
  const route = <P extends string>(method: "get" | "post" | "delete", path: P, summary: string) =>
    ({ method, path, tags, summary, security: BEARER }) as const;
  return {
    list: createRoute({
      ...route("get", "/channels", "Notification channels (never a credential)"),
      request: { query: queryObject({}) },
      responses: {
        200: jsonResponse(z.object({ channels: z.array(ChannelViewSchema) }), "The channels"),
        ...errorResponses(400, ...AUTH_ERRORS),
      },
    }),
    add: createRoute({
      ...route("post", "/channels", "Add a channel (email, sms or webhook)"),
      middleware: [smallBody(MAX_CHANNEL_BODY_BYTES), jsonBody(NewChannelSchema, CHANNEL_SHAPE)] as const,
      request: { query: queryObject({}), body: documentedBody(api, "NewChannel", NewChannelSchema, true) },
      responses: {
        201: jsonResponse(
          z.object({ channel: ChannelViewSchema, webhookKey: KeyAnswer.webhookKey.nullable() }),
          "The channel, and a webhook's signing key (null for others)",
        ),
        ...errorResponses(400, ...AUTH_ERRORS, 409, 413),
      },
    }),
    remove: createRoute({
      ...route("delete", "/channels/{name}", "Remove a channel"),
      request: { query: queryObject({}), params: ChannelParams },
      responses: {
        200: jsonResponse(z.object({ removed: z.string() }), "The name removed"),
        ...errorResponses(400, ...AUTH_ERRORS, 404),
      },
    }),
    test: createRoute({
      ...route("post", "/channels/{name}/test", "Send a test message; answers its delivery after its first attempt"),
      middleware: [smallBody(MAX_ROTATE_BODY_BYTES), jsonBody(EmptyBodySchema, "nothing (or {})", true)] as const,
      request: {
        query: queryObject({}),
        params: ChannelParams,
        body: documentedBody(api, "Empty", EmptyBodySchema, false),
      },
      responses: {
        200: jsonResponse(z.object({ notification: NotificationViewSchema }), "The delivery"),
        ...errorResponses(400, ...AUTH_ERRORS, 404, 413),
      },
    }),
    rotate: createRoute({
      ...route(
        "post",
        "/channels/{name}/rotate",
        "A new signing key for a webhook channel; the old one signs too for a while",
      ),
      middleware: [
        smallBody(MAX_ROTATE_BODY_BYTES),
        jsonBody(RotateSchema, '{ "windowSeconds": 3600 } (or nothing: 24 hours)', true),
      ] as const,
      request: {
        query: queryObject({}),
        params: ChannelParams,
        body: documentedBody(api, "RotateKey", RotateSchema, false),
      },
      responses: {
        200: jsonResponse(
          z.object({ ...KeyAnswer, previousValidUntil: z.string().openapi({ format: "date-time" }) }),
          "The new key, and until when the old one signs too",
        ),
        ...errorResponses(400, ...AUTH_ERRORS, 404, 409, 413),
      },
    }),
    notifications: createRoute({
      ...route("get", "/notifications", "Deliveries, newest first"),
      request: {
        query: queryObject({
          channel: textQuery("channel", "channel name", MAX_CHANNEL_NAME, "Only this channel's."),
          limit: wholeQuery(
            "limit",
            1,
            MAX_NOTIFICATIONS_LIMIT,
            `Deliveries (default ${DEFAULT_NOTIFICATIONS_LIMIT}).`,
          ),
        }),
      },
      responses: {
        200: jsonResponse(z.object({ notifications: z.array(NotificationViewSchema) }), "The deliveries"),
        ...errorResponses(400, ...AUTH_ERRORS),
      },
    }),
  };
}

/** Mounts the channel and notification routes on the API router (behind its access check). */
export function channelRoutes(api: OpenAPIHono<AppEnv>, services: WebServices): void {
  const r = routes(api);
  api.openapi(r.list, async (c) => c.json({ channels: await services.listChannels() }, 200));
  api.openapi(r.add, async (c) => {
    const input = channelInput(c.get("body") as z.infer<typeof NewChannelSchema>);
    return c.json(await services.addChannel(input, c.get("caller")), 201);
  });
  api.openapi(r.remove, async (c) => {
    const { name } = c.req.valid("param");
    await services.removeChannel(name, c.get("caller"));
    return c.json({ removed: name }, 200);
  });
  api.openapi(r.test, async (c) =>
    c.json({ notification: await services.testChannel(c.req.valid("param").name) }, 200),
  );
  api.openapi(r.rotate, async (c) => {
    const { windowSeconds } = c.get("body") as z.infer<typeof RotateSchema>;
    return c.json(
      await services.rotateChannelKey(c.req.valid("param").name, windowSeconds || undefined, c.get("caller")),
      200,
    );
  });
  api.openapi(r.notifications, async (c) => {
    const { channel, limit } = c.req.valid("query");
    return c.json({ notifications: await services.listNotifications({ channel, limit }) }, 200);
  });
}
