// Sending one message on one channel. Every connection goes to an address resolved and checked
// once (ssrf.ts) and then pinned: the HTTP request and the SMTP session connect to that IP, with
// the name kept for the Host header and TLS (SNI and certificate check).
import http from "node:http";
import { isIP } from "node:net";
import https from "node:https";
import nodemailer from "nodemailer";
import { Webhook } from "standardwebhooks";
import { resolveTarget, RefusedTargetError, type TargetPolicy } from "./ssrf";
import type { AttemptRecord } from "./outbox";
import type { ChannelRow } from "./channels";
import { maskDeep, renderTemplate, type NotifyContext } from "./templates";

export const SEND_TIMEOUT_MS = 10_000;
/** Bytes of a response body kept for the attempt's error text. */
const RESPONSE_KEEP = 512;

export interface RenderedMessage {
  id: string;
  event: string;
  subject: string;
  body: string;
  /** The JSON a webhook receives as `data` (already masked). */
  data: Record<string, unknown>;
  createdAt: Date;
}

export interface ChannelCredentials {
  key?: string | null;
  previousKey?: string | null;
  password?: string | null;
  token?: string | null;
}

/** Sends `msg` on `channel`; never throws (the outcome is the attempt to record). */
export async function send(
  channel: ChannelRow,
  creds: ChannelCredentials,
  msg: RenderedMessage,
  policy: TargetPolicy,
  now: Date,
): Promise<AttemptRecord> {
  const started = Date.now();
  try {
    const out = await sendOnce(channel, creds, msg, policy, now);
    return { ...out, durationMs: Date.now() - started };
  } catch (err) {
    const refused = err instanceof RefusedTargetError;
    return {
      result: refused ? "refused" : "failed",
      statusCode: null,
      error: (err as Error).message,
      durationMs: Date.now() - started,
    };
  }
}

async function sendOnce(
  channel: ChannelRow,
  creds: ChannelCredentials,
  msg: RenderedMessage,
  policy: TargetPolicy,
  now: Date,
) {
  const c = channel.config as Record<string, unknown>;
  if (channel.type === "webhook") {
    const payload = JSON.stringify({ type: msg.event, timestamp: msg.createdAt.toISOString(), data: msg.data });
    const headers = {
      "content-type": "application/json",
      ...signatureHeaders(msg.id, now, payload, [creds.key, creds.previousKey]),
    };
    return httpOutcome(await postPinned(String(c.url), headers, payload, policy));
  }
  if (channel.type === "sms") {
    const template = String(c.template);
    const form = !template.trimStart().startsWith("{");
    const message = `${msg.subject}\n${msg.body}`.slice(0, 1600);
    const outcomes: Omit<AttemptRecord, "durationMs">[] = [];
    for (const to of c.to as string[]) {
      const values = { to, from: String(c.from), message };
      const encode = form ? encodeURIComponent : (s: string) => JSON.stringify(s).slice(1, -1);
      const body = template.replace(/\{\{\s*(to|from|message)\s*\}\}/g, (_m, k: keyof typeof values) =>
        encode(values[k]),
      );
      const headers: Record<string, string> = {
        "content-type": form ? "application/x-www-form-urlencoded" : "application/json",
      };
      if (creds.token)
        headers.authorization = c.user
          ? `Basic ${Buffer.from(`${String(c.user)}:${creds.token}`).toString("base64")}`
          : `Bearer ${creds.token}`;
      const outcome = httpOutcome(await postPinned(String(c.url), headers, body, policy));
      if (outcome.result !== "delivered") return outcome;
      outcomes.push(outcome);
    }
    return outcomes[outcomes.length - 1]!;
  }
  if (channel.type === "email") {
    const host = String(c.host);
    const { address } = await resolveTarget(host, policy);
    const transport = nodemailer.createTransport({
      host: address,
      port: Number(c.port),
      secure: c.secure === true,
      name: "dockyard",
      auth: c.user && creds.password ? { user: String(c.user), pass: creds.password } : undefined,
      tls: isIP(host) === 0 ? { servername: host } : {},
      connectionTimeout: SEND_TIMEOUT_MS,
      greetingTimeout: SEND_TIMEOUT_MS,
      socketTimeout: SEND_TIMEOUT_MS,
    });
    try {
      const info = await transport.sendMail({
        from: String(c.from),
        to: (c.to as string[]).join(", "),
        subject: msg.subject,
        text: msg.body,
        messageId: `<${msg.id}@dockyard>`,
        headers: { "X-Dockyard-Message-Id": msg.id },
      });
      const rejected = (info.rejected ?? []).length;
      if (rejected > 0)
        return { result: "failed" as const, statusCode: null, error: `${rejected} recipient(s) rejected` };
      return { result: "delivered" as const, statusCode: 250, error: null };
    } finally {
      transport.close();
    }
  }
  return { result: "refused" as const, statusCode: null, error: `unknown channel type ${channel.type}` };
}

/**
 * Standard Webhooks headers; `v1,<sig>` per key (current first, then a rotated-out key still in its window),
 * space-separated.
 */
export function signatureHeaders(
  id: string,
  at: Date,
  payload: string,
  keys: (string | null | undefined)[],
): Record<string, string> {
  const signatures = keys.filter((k): k is string => Boolean(k)).map((k) => new Webhook(k).sign(id, at, payload));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signatures.join(" "),
  };
}

function httpOutcome(res: { status: number; text: string }): Omit<AttemptRecord, "durationMs"> {
  if (res.status >= 200 && res.status < 300) return { result: "delivered", statusCode: res.status, error: null };
  if (res.status === 410)
    return { result: "gone", statusCode: 410, error: "410 Gone: the receiver asked to stop; channel disabled" };
  return { result: "failed", statusCode: res.status, error: `HTTP ${res.status}${res.text ? `: ${res.text}` : ""}` };
}

/** POST to `url` at its resolved, checked address; redirects are not followed (each would need its own check). */
export async function postPinned(
  url: string,
  headers: Record<string, string>,
  body: string,
  policy: TargetPolicy,
): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const { address, family } = await resolveTarget(u.hostname, policy);
  const lib = u.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      {
        method: "POST",
        host: address,
        family,
        port: u.port || (u.protocol === "https:" ? 443 : 80),
        path: `${u.pathname}${u.search}`,
        // SNI takes a name only; an IP literal is checked against the certificate's IP SANs.
        ...(isIP(u.hostname.replace(/^\[|\]$/g, "")) === 0 ? { servername: u.hostname } : {}),
        headers: {
          ...headers,
          host: u.host,
          "content-length": String(Buffer.byteLength(body)),
          "user-agent": "dockyard-notify",
        },
        timeout: SEND_TIMEOUT_MS,
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (text.length < RESPONSE_KEEP) text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: text.slice(0, RESPONSE_KEEP).trim() }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${SEND_TIMEOUT_MS / 1000} s`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Subject, body and webhook data of a delivery, rendered with every secret value masked. */
export function renderMessage(
  row: { id: string; event: string; subject: string; body: string; payload: Record<string, unknown>; createdAt: Date },
  secrets: readonly string[],
  linkBase: string | null = null,
): RenderedMessage {
  const stored = (row.payload.context ?? { event: row.event, status: "" }) as NotifyContext;
  // Links point at this server's HTTP API (the address a replica serves, or the configured public URL).
  const links: Record<string, string> =
    stored.run && linkBase
      ? { run: `${linkBase}/api/v1/runs/${stored.run.id}`, logs: `${linkBase}/api/v1/runs/${stored.run.id}/logs` }
      : {};
  const context: NotifyContext = { ...stored, links: { ...links, ...stored.links } };
  const subject = renderTemplate(row.subject, context, secrets);
  const body = renderTemplate(row.body, context, secrets);
  return {
    id: row.id,
    event: row.event,
    subject,
    body,
    data: maskDeep({ subject, body, ...context }, secrets),
    createdAt: row.createdAt,
  };
}
