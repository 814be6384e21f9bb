// Notification channels and their deliveries: `GET /channels` (viewer), `POST /channels`,
// `DELETE /channels/:name`, `POST /channels/:name/test`, `POST /channels/:name/rotate`
// (admin) and `GET /notifications?channel=NAME&limit=N` (viewer). The same operations as the
// gRPC channel methods (the server's NotifyService checks names, targets and bounds for both
// edges; every change is audited with the caller); here the request's shape is checked. No
// answer carries a credential: a webhook's signing key, which the server makes, is answered
// once, by the add or rotate that made it (as `dockyard channels add|rotate` prints it).
import type { Hono } from "hono";
import type { AppEnv, NewChannelInput, WebServices } from "../types";
import { MAX_NOTIFICATIONS_LIMIT, MAX_ROTATION_WINDOW_SECONDS } from "../limits";
import {
  invalid,
  jsonObject,
  nameParam,
  onlyParams,
  smallBody,
  stringField,
  stringListField,
  wholeField,
  wholeParam,
} from "./input";

/** Text fields, recipients and the credential are bounded by the service; this bounds the request as a whole. */
const MAX_CHANNEL_BODY_BYTES = 256 * 1024;
const MAX_ROTATE_BODY_BYTES = 8 * 1024;
const MAX_CHANNEL_NAME = 40;
/** Generous outer bounds; the service's own (4096 characters, 20 recipients, 64 KiB credential) are checked after. */
const MAX_TEXT = 8192;
const MAX_SECRET = 128 * 1024;
const MAX_TO = 64;
const CHANNEL_FIELDS = [
  "name",
  "type",
  "url",
  "smtpUrl",
  "from",
  "to",
  "template",
  "user",
  "secret",
  "secretName",
] as const;
const CHANNEL_SHAPE = '{ "name": "ops", "type": "webhook", "url": "https://..." } (see the README for email and sms)';

function channelInput(body: Record<string, unknown>): NewChannelInput {
  const input: NewChannelInput = {
    name: stringField(body, "name", MAX_TEXT, true),
    type: stringField(body, "type", MAX_TEXT, true),
  };
  for (const field of ["url", "smtpUrl", "from", "template", "user", "secretName"] as const) {
    const value = stringField(body, field, MAX_TEXT);
    if (value !== undefined && value !== "") input[field] = value;
  }
  const to = stringListField(body, "to", MAX_TO, MAX_TEXT);
  if (to !== undefined) input.to = to;
  const secret = stringField(body, "secret", MAX_SECRET);
  if (secret !== undefined && secret !== "") input.secret = secret;
  return input;
}

/** Mounts the channel and notification routes on the API router (behind its access check). */
export function channelRoutes(api: Hono<AppEnv>, services: WebServices): void {
  api.get("/channels", async (c) => {
    onlyParams(c, []);
    return c.json({ channels: await services.listChannels() });
  });
  api.post("/channels", smallBody(MAX_CHANNEL_BODY_BYTES), async (c) => {
    onlyParams(c, []);
    const input = channelInput(await jsonObject(c, CHANNEL_FIELDS, CHANNEL_SHAPE));
    return c.json(await services.addChannel(input, c.get("caller")), 201);
  });
  api.delete("/channels/:name", async (c) => {
    onlyParams(c, []);
    const name = nameParam(c, "name", "channel name", MAX_CHANNEL_NAME);
    await services.removeChannel(name, c.get("caller"));
    return c.json({ removed: name });
  });
  api.post("/channels/:name/test", smallBody(MAX_ROTATE_BODY_BYTES), async (c) => {
    onlyParams(c, []);
    const name = nameParam(c, "name", "channel name", MAX_CHANNEL_NAME);
    await jsonObject(c, [], "nothing (or {})", true);
    return c.json({ notification: await services.testChannel(name) });
  });
  api.post("/channels/:name/rotate", smallBody(MAX_ROTATE_BODY_BYTES), async (c) => {
    onlyParams(c, []);
    const name = nameParam(c, "name", "channel name", MAX_CHANNEL_NAME);
    const body = await jsonObject(c, ["windowSeconds"], '{ "windowSeconds": 3600 } (or nothing: 24 hours)', true);
    const windowSeconds = wholeField(body, "windowSeconds", 0, MAX_ROTATION_WINDOW_SECONDS);
    return c.json(await services.rotateChannelKey(name, windowSeconds || undefined, c.get("caller")));
  });
  api.get("/notifications", async (c) => {
    onlyParams(c, ["channel", "limit"]);
    const channel = c.req.query("channel") || undefined;
    if (channel !== undefined && channel.length > MAX_CHANNEL_NAME) {
      throw invalid(
        `invalid channel '${channel.slice(0, 32)}…': a channel name is at most ${MAX_CHANNEL_NAME} characters`,
      );
    }
    const limit = wholeParam(c, "limit", 1, MAX_NOTIFICATIONS_LIMIT);
    return c.json({ notifications: await services.listNotifications({ channel, limit }) });
  });
}
