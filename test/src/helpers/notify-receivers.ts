// Real receivers for notification tests, on loopback: an HTTP server that records every request
// (and answers as told), and an SMTP server (smtp-server) whose mails are parsed by mailparser.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { simpleParser, type ParsedMail } from "mailparser";

export interface ReceivedRequest {
  at: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpReceiver {
  url: string;
  port: number;
  received: ReceivedRequest[];
  /** Requests answered 2xx, deduplicated by webhook-id (what a receiver that drops duplicates keeps). */
  uniqueDelivered(): Map<string, ReceivedRequest>;
  /** What the next request is answered; default 200. `n`: 1-based request number. */
  respond: (req: ReceivedRequest, n: number) => number;
  close(): Promise<void>;
}

/** An HTTP receiver on 127.0.0.1 (a fixed port when given, so it can come back on the same URL). */
export async function startHttpReceiver(
  opts: {
    port?: number;
    respond?: (req: ReceivedRequest, n: number) => number;
    /** Answer each request this late (sends in flight). */ delayMs?: number;
  } = {},
): Promise<HttpReceiver> {
  const received: ReceivedRequest[] = [];
  const statuses: number[] = [];
  const receiver: HttpReceiver = {
    url: "",
    port: 0,
    received,
    respond: opts.respond ?? (() => 200),
    uniqueDelivered() {
      const out = new Map<string, ReceivedRequest>();
      received.forEach((r, i) => {
        const id = String(r.headers["webhook-id"] ?? "");
        if ((statuses[i] ?? 0) < 300 && !out.has(id)) out.set(id, r);
      });
      return out;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: ReceivedRequest = {
        at: Date.now(),
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      const answer = () => {
        const status = receiver.respond(r, received.length + 1);
        received.push(r);
        statuses.push(status);
        res.writeHead(status).end(status >= 300 ? "nope" : "ok");
      };
      // Recorded only once answered: a request whose sender died before the answer never got a 2xx.
      if (opts.delayMs) setTimeout(answer, opts.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", () => resolve()));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/hook`;
  return receiver;
}

export interface SmtpReceiver {
  port: number;
  mails: ParsedMail[];
  /** user -> password of each authenticated session. */
  logins: { user: string; pass: string }[];
  close(): Promise<void>;
}

/** A real SMTP server on 127.0.0.1 (plain, AUTH PLAIN/LOGIN allowed without TLS for the test). */
export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const mails: ParsedMail[] = [];
  const logins: { user: string; pass: string }[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    authOptional: true,
    logger: false,
    onAuth(auth, _session, cb) {
      logins.push({ user: auth.username ?? "", pass: auth.password ?? "" });
      cb(null, { user: auth.username });
    },
    onData(stream, _session, cb) {
      simpleParser(stream)
        .then((mail) => {
          mails.push(mail);
          cb();
        })
        .catch((err: Error) => cb(err));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, logins, close: () => new Promise<void>((r) => server.close(() => r())) };
}
