// Tests' web site for journeys: a node:http server on loopback with a home page that logs a
// console error, a form, a page that fails its first `flakyFailures` visits, and counters.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface TestSite {
  url: string;
  /** Visits of /flaky so far. */
  flakyVisits(): number;
  close(): Promise<void>;
}

const HOME = `<!doctype html><html><head><title>Shop</title></head><body>
<h1>Shop</h1><p style="font-size:32px">Welcome to the shop</p>
<form action="/done"><input id="user" name="user"><button id="go" type="submit">Sign in</button></form>
<script>console.error("cart service unavailable")</script></body></html>`;

export async function startTestSite(opts: { flakyFailures?: number } = {}): Promise<TestSite> {
  let flaky = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const html = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
      res.end(body);
    };
    if (url.pathname === "/") return html(200, HOME);
    if (url.pathname === "/done")
      return html(200, `<h1>Hello ${(url.searchParams.get("user") ?? "").replace(/[^a-z]/gi, "")}</h1>`);
    if (url.pathname === "/flaky") {
      flaky++;
      return flaky <= (opts.flakyFailures ?? 0) ? html(500, "<h1>Oops</h1>") : html(200, "<h1>Stable now</h1>");
    }
    html(404, "<h1>Not found</h1>");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    flakyVisits: () => flaky,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
