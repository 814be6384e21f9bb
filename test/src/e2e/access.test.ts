// The access table walked against a real server: for every gRPC method and HTTP route, no
// credential is UNAUTHENTICATED/401, a token of a user lacking the role PERMISSION_DENIED/403,
// and a user holding it gets past the access layer (whatever the empty request then earns).
// A disabled user's token is refused at once. Agent methods are checked for their own credential.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { AgentService, RunService, clientTlsCredentials, createClient } from "@dockyard/proto";
import { GRPC_ACCESS, HTTP_ACCESS, hasRole, type Role } from "@dockyard/control-plane";
import { removeTempDir, tempDir } from "@dockyard/testkit";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startFarm, type Farm } from "../index";

type AnyService = typeof RunService | typeof AgentService;
const DENIED = new Set([grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED]);

describe("access: every method and route by role", { timeout: 240_000 }, () => {
  let farm: Farm;
  /** Users holding exactly one role each, with a token. */
  const tokens = new Map<Role, string>();
  const roleUsers: Role[] = ["viewer", "operator", "approver", "admin"];
  let alertDir: string | undefined;

  before(async () => {
    // The alert receiver configured, so its refusal below is the token check's 401, not "not configured".
    alertDir = tempDir("access-alert");
    const alertToken = path.join(alertDir, "token");
    writeFileSync(alertToken, randomBytes(16).toString("hex"), { mode: 0o600 });
    farm = await startFarm({ env: { DOCKYARD_ALERT_TOKEN_FILE: alertToken } });
    for (const role of roleUsers) {
      await farm.client.addUser({ name: `u-${role}`, roles: [role] });
      tokens.set(role, (await farm.client.createApiToken({ user: `u-${role}`, description: `${role} walk` })).token);
    }
  });
  after(async () => {
    await farm?.stop();
    if (alertDir) removeTempDir(alertDir);
  });

  /**
   * The gRPC status a call of `method` with an empty request earns with `token` (null: no credential); 0 when it
   * succeeds.
   */
  async function codeOf(service: AnyService, methodName: string, token: string | null): Promise<number> {
    const client = createClient(service as typeof RunService, farm.server.grpcAddress, {
      credentials: clientTlsCredentials(farm.server.pki.caPem),
      metadata: () => {
        const md = new grpc.Metadata();
        if (token !== null) md.set("authorization", `Bearer ${token}`);
        return md;
      },
    });
    try {
      const method = service.methods.find((m) => m.name === methodName)!;
      const fn = (client as unknown as Record<string, (...a: unknown[]) => unknown>)[method.localName]!;
      if (method.methodKind === "unary") {
        return await (fn({}, { timeoutMs: 10_000 }) as Promise<unknown>).then(
          () => 0,
          (err: grpc.ServiceError) => err.code,
        );
      }
      const stream = (
        method.methodKind === "server_streaming" ? fn({}, { timeoutMs: 10_000 }) : fn({ timeoutMs: 10_000 })
      ) as grpc.ClientReadableStream<unknown> & Partial<grpc.ClientWritableStream<unknown>>;
      stream.end?.();
      return await new Promise<number>((resolve) => {
        stream.on("error", (err: grpc.ServiceError) => resolve(err.code));
        stream.on("data", () => undefined);
        stream.on("status", (s: grpc.StatusObject) => resolve(s.code));
      });
    } finally {
      client.close();
    }
  }

  it("gRPC RunService: none -> UNAUTHENTICATED, lacking role -> PERMISSION_DENIED, holding it -> past the guard", async () => {
    const table = GRPC_ACCESS[RunService.typeName]!;
    assert.equal(Object.keys(table).length, RunService.methods.length);
    const lackingSeen = new Set<string>();
    for (const m of RunService.methods) {
      const needed = table[m.name] as Role;
      assert.equal(await codeOf(RunService, m.name, null), grpc.status.UNAUTHENTICATED, `${m.name} without a token`);
      assert.equal(
        await codeOf(RunService, m.name, "dya_not_a_real_token_0000"),
        grpc.status.UNAUTHENTICATED,
        `${m.name} with an unknown token`,
      );
      for (const role of roleUsers) {
        const code = await codeOf(RunService, m.name, tokens.get(role)!);
        if (hasRole([role], needed)) {
          assert.ok(
            !DENIED.has(code),
            `${m.name} (needs ${needed}) with a ${role}: got ${grpc.status[code]}, expected past the guard`,
          );
        } else {
          assert.equal(code, grpc.status.PERMISSION_DENIED, `${m.name} (needs ${needed}) with a ${role}`);
          lackingSeen.add(m.name);
        }
      }
    }
    // Every method that needs more than viewer met a user lacking it (viewer is every role's floor).
    const aboveViewer = RunService.methods.filter((m) => table[m.name] !== "viewer").map((m) => m.name);
    assert.deepEqual([...lackingSeen].sort(), aboveViewer.sort());
  });

  it("gRPC AgentService: user tokens do not open agent methods; they need the agent's own credential", async () => {
    for (const m of AgentService.methods) {
      assert.equal(GRPC_ACCESS[AgentService.typeName]![m.name], "agent");
      if (m.name === "Register") continue; // proves a join token in its request, checked in identity tests
      for (const token of [null, tokens.get("admin")!]) {
        assert.equal(
          await codeOf(AgentService, m.name, token),
          grpc.status.UNAUTHENTICATED,
          `${m.name} with ${token ? "an admin's API token" : "nothing"}`,
        );
      }
    }
  });

  it("HTTP: every route by role; public ones need nothing", async () => {
    const request = (key: string, token: string | null) => {
      const [method, path] = key.split(" ") as [string, string];
      const url = farm.server.httpUrl + path.replace(":id", "no-such-run").replace(":stage", "build");
      return fetch(url, {
        method,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        body: method === "POST" ? "" : undefined,
      });
    };
    for (const [key, needed] of Object.entries(HTTP_ACCESS)) {
      if (needed === "public") {
        assert.ok(![401, 403].includes((await request(key, null)).status), `${key} is public`);
        continue;
      }
      if (needed === "webhook") {
        const unsigned = await request(key, null);
        assert.equal(unsigned.status, 401, `${key} unsigned`);
        assert.match(
          ((await unsigned.json()) as { error: { message: string } }).error.message,
          /^(unknown hook|webhook refused|the alert receiver requires|unknown repository)/,
          `${key} names the signature`,
        );
        continue;
      }
      const none = await request(key, null);
      assert.equal(none.status, 401, `${key} without a token`);
      for (const role of roleUsers) {
        const res = await request(key, tokens.get(role)!);
        // A live stream (SSE) does not end: its status is the answer.
        const live = res.headers.get("content-type")?.startsWith("text/event-stream");
        const body = live ? (await res.body?.cancel(), "") : await res.text();
        if (hasRole([role], needed as Role))
          assert.ok(![401, 403].includes(res.status), `${key} (needs ${needed}) with a ${role}: ${res.status} ${body}`);
        else assert.equal(res.status, 403, `${key} (needs ${needed}) with a ${role}: ${body}`);
      }
    }
  });

  it("a disabled user's token is refused at once, on both edges; the user stays listed", async () => {
    await farm.client.addUser({ name: "leaver", roles: ["operator"] });
    const { token } = await farm.client.createApiToken({ user: "leaver" });
    assert.equal(await codeOf(RunService, "ListRuns", token), 0, "positive control: the token works first");
    const httpStatus = async () =>
      (await fetch(`${farm.server.httpUrl}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } })).status;
    assert.equal(await httpStatus(), 200);
    await farm.client.disableUser({ name: "leaver" });
    // No wait: the very next call is refused (each call reads the user).
    assert.equal(await codeOf(RunService, "ListRuns", token), grpc.status.UNAUTHENTICATED);
    assert.equal(await httpStatus(), 401);
    const listed = (await farm.client.listUsers({})).users.find((u) => u.name === "leaver")!;
    assert.ok(Number(listed.disabledAtMs) > 0);
    await assert.rejects(farm.client.createApiToken({ user: "leaver" }), /disabled/);
  });
});
