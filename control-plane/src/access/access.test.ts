// The access table covers every gRPC method of the service definitions and every route of the
// web app, and a method or route it does not name is refused (fail closed). No database: the
// walk against a real server is test/src/e2e/access.test.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import type { DescService } from "@bufbuild/protobuf";
import { AgentService, RunService } from "@dockyard/proto";
import { createApp, type WebServices } from "@dockyard/web";
import { GRPC_ACCESS, HTTP_ACCESS } from "./role-table";
import { hasRole, ROLES } from "./roles";
import { routeAccess } from "./route-access";
import { guardService } from "../transport/grpc/guard";

const admin = { userId: "u1", user: "root", roles: ["admin"] };
const notCalled = async (): Promise<never> => assert.fail("not called");

function stubServices(): WebServices {
  return {
    authenticate: async () => admin,
    submitRun: notCalled,
    getRun: notCalled,
    runEvents: notCalled,
    runChanges: notCalled,
    listRuns: async () => ({ runs: [], more: false }),
    cancelRun: notCalled,
    rerunRun: notCalled,
    decideApproval: notCalled,
    hookDecision: notCalled,
    gitPush: notCalled,
    stageLog: notCalled,
    listAgents: async () => [],
    removeAgent: notCalled,
    drainAgent: notCalled,
    revokeAgent: notCalled,
    listTokens: async () => [],
    listEnvironments: async () => [],
    listServices: async () => [],
    serviceHistory: async () => [],
    rollbackService: async () => ({ mode: "run" as const, runId: "r" }),
    receiveAlerts: async () => ({ received: 0, stored: 0, resolved: 0, repeated: 0 }),
    listAlerts: async () => [],
    listUsers: async () => [],
    addUser: notCalled,
    disableUser: notCalled,
    listAudit: async () => [],
    listChannels: async () => [],
    addChannel: notCalled,
    removeChannel: notCalled,
    testChannel: notCalled,
    rotateChannelKey: notCalled,
    listNotifications: async () => [],
    listArtifacts: async () => [],
    getArtifact: async () => Promise.reject(new Error("unused")),
    listSchedules: async () => [],
    getSchedule: async () => {
      throw new Error("unused");
    },
    createSchedule: async () => {
      throw new Error("unused");
    },
    deleteSchedule: async () => undefined,
    setScheduleEnabled: async () => {
      throw new Error("unused");
    },
    scheduleTicks: async () => [],
    metrics: async () => ({ contentType: "text/plain", body: "" }),
    health: async () => ({ ok: true, checks: {} }),
  };
}

describe("the access table", () => {
  it("names every method of AgentService and RunService, and nothing else", () => {
    for (const service of [AgentService, RunService]) {
      const declared = Object.keys(GRPC_ACCESS[service.typeName] ?? {}).sort();
      assert.deepEqual(declared, service.methods.map((m) => m.name).sort(), `${service.typeName} methods vs the table`);
      for (const m of service.methods) {
        const want = service === AgentService ? "agent" : undefined;
        if (want) assert.equal(GRPC_ACCESS[service.typeName]![m.name], want, `${m.name} is an agent method`);
      }
    }
    assert.deepEqual(Object.keys(GRPC_ACCESS).sort(), [AgentService.typeName, RunService.typeName].sort());
  });

  it("names every route of the web app, and nothing else", () => {
    const app = createApp(stubServices(), { access: routeAccess, maxBodyBytes: 1024 });
    const routes = [
      ...new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`)),
    ].sort();
    assert.ok(routes.length >= 10, `the app has its routes (${routes.length})`);
    assert.deepEqual(routes, Object.keys(HTTP_ACCESS).sort());
  });

  it("roles: admin implies all, operator and approver each imply viewer only, viewer only itself", () => {
    const table = Object.fromEntries(ROLES.map((held) => [held, ROLES.filter((needed) => hasRole([held], needed))]));
    assert.deepEqual(table, {
      viewer: ["viewer"],
      operator: ["viewer", "operator"],
      approver: ["viewer", "approver"],
      admin: ["viewer", "operator", "approver", "admin"],
    });
    assert.equal(hasRole(["operator", "approver"], "approver"), true, "roles are a set: each held role counts");
    assert.equal(hasRole(["nonsense"], "viewer"), false, "an unknown role grants nothing");
  });
});

describe("fail closed", () => {
  it("a gRPC method missing from the table is refused even for an admin; one in it passes the same guard", async () => {
    const method = (name: string) => ({ name, localName: name[0]!.toLowerCase() + name.slice(1), methodKind: "unary" });
    const fake = {
      typeName: RunService.typeName,
      methods: [method("NotInTheTable"), method("ListRuns")],
    } as unknown as DescService;
    let reached = 0;
    const handler: grpc.handleUnaryCall<unknown, unknown> = (_call, cb) => {
      reached++;
      cb(null, {});
    };
    const guarded = guardService(
      fake,
      { notInTheTable: handler, listRuns: handler },
      async () => admin,
      pino({ level: "silent" }),
    ) as Record<string, grpc.handleUnaryCall<unknown, unknown>>;
    const call = (name: string) =>
      new Promise<grpc.ServiceError | null>((resolve) => {
        const md = new grpc.Metadata();
        md.set("authorization", "Bearer dya_anything_long_enough");
        guarded[name]!({ metadata: md, request: {} } as never, (err) => resolve(err as grpc.ServiceError | null));
      });
    const refused = await call("notInTheTable");
    assert.equal(refused?.code, grpc.status.PERMISSION_DENIED);
    assert.match(refused!.details, /NotInTheTable has no entry in the access table/);
    assert.equal(reached, 0, "the handler never ran");
    assert.equal(await call("listRuns"), null, "positive control: a listed method passes");
    assert.equal(reached, 1);
  });

  it("an HTTP route the table does not name answers 403 even for an admin", async () => {
    const access = {
      routeAccess: (r: string) => (r === "GET /api/v1/runs" ? undefined : routeAccess.routeAccess(r)),
      allows: routeAccess.allows,
    };
    const app = createApp(stubServices(), { access, maxBodyBytes: 1024 });
    const headers = { authorization: "Bearer dya_anything_long_enough" };
    const refused = await app.request("/api/v1/runs", { headers });
    assert.equal(refused.status, 403);
    assert.match(
      ((await refused.json()) as { error: { message: string } }).error.message,
      /GET \/api\/v1\/runs has no entry in the access table/,
    );
    assert.equal(
      (await app.request("/api/v1/agents", { headers })).status,
      200,
      "positive control: a listed route passes",
    );
  });
});
