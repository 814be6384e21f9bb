// A stand-in for the server's alert receiver in monitoring tests: a node:http server on a free
// port that keeps every Alertmanager webhook POST (v4 JSON) with the Authorization header it
// came with, and answers 401 to a wrong token, as the server does.
import http from "node:http";
import { freePort } from "@dockyard/testkit";
import type { AlertmanagerAlert } from "@dockyard/web";

/** One alert of a post: the webhook v4 shape the server's receiver reads. */
export type WebhookAlert = AlertmanagerAlert;

export interface WebhookPost {
  authorization: string | undefined;
  body: { version: string; status: string; groupLabels: Record<string, string>; alerts: WebhookAlert[] };
}

export interface WebhookReceiver {
  url: string;
  /** Every POST, in order of arrival (also the refused ones). */
  posts: WebhookPost[];
  /** Every alert of an accepted POST. */
  alerts(): WebhookAlert[];
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

export async function startWebhookReceiver(token: string): Promise<WebhookReceiver> {
  const posts: WebhookPost[] = [];
  const accepted: WebhookPost[] = [];
  const server = http.createServer((req, res) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on("end", () => {
      if (req.method !== "POST" || size > MAX_BODY) {
        res.writeHead(400).end();
        return;
      }
      let body: WebhookPost["body"];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as WebhookPost["body"];
      } catch {
        res.writeHead(400).end("not JSON");
        return;
      }
      const post = { authorization: req.headers.authorization, body };
      posts.push(post);
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401).end();
        return;
      }
      accepted.push(post);
      res.writeHead(200).end("{}");
    });
  });
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
      break;
    } catch (err) {
      if (attempt >= 2) throw err;
    }
  }
  return {
    url: `http://127.0.0.1:${port}/api/v1/alerts/alertmanager`,
    posts,
    alerts: () => accepted.flatMap((p) => p.body.alerts),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
