// The user, audit, channel and notification routes' input checks, in the app alone: what reaches
// the services is exactly what the request said, and every bad query parameter, path name or
// body is refused before (400 naming it, 413 for a body over its bound). The same routes against
// a real server, with roles and the audit log: test/src/e2e/http-admin.test.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../app";
import type { ErrorBody, WebServices } from "../types";

const TOKEN = "dya_api_token_0123456789";
const caller = { userId: "u1", user: "root", roles: ["admin"] };

function recorder() {
  const calls: unknown[][] = [];
  const record =
    (name: string, answer: unknown) =>
    async (...args: unknown[]) => {
      calls.push([name, ...args]);
      return answer;
    };
  const user = {
    name: "alice",
    roles: ["viewer"],
    createdAt: "2026-01-01T00:00:00.000Z",
    disabledAt: null,
    activeTokens: 0,
  };
  const notCalled = async (): Promise<never> => assert.fail("not called");
  const services: WebServices = {
    authenticate: async () => caller,
    submitRun: notCalled,
    getRun: notCalled,
    runEvents: notCalled,
    runChanges: notCalled,
    listRuns: notCalled,
    cancelRun: notCalled,
    rerunRun: notCalled,
    decideApproval: notCalled,
    hookDecision: notCalled,
    gitPush: notCalled,
    stageLog: notCalled,
    listAgents: notCalled,
    removeAgent: notCalled,
    drainAgent: notCalled,
    revokeAgent: notCalled,
    listTokens: notCalled,
    listEnvironments: notCalled,
    listServices: notCalled,
    serviceHistory: notCalled,
    rollbackService: notCalled,
    receiveAlerts: notCalled,
    listAlerts: notCalled,
    listUsers: record("listUsers", [user]) as WebServices["listUsers"],
    addUser: record("addUser", user) as WebServices["addUser"],
    disableUser: record("disableUser", user) as WebServices["disableUser"],
    listAudit: record("listAudit", []) as WebServices["listAudit"],
    listChannels: record("listChannels", []) as WebServices["listChannels"],
    addChannel: record("addChannel", { channel: {}, webhookKey: null }) as WebServices["addChannel"],
    removeChannel: record("removeChannel", undefined) as WebServices["removeChannel"],
    testChannel: record("testChannel", {}) as WebServices["testChannel"],
    rotateChannelKey: record("rotateChannelKey", {
      webhookKey: "whsec_x",
      previousValidUntil: "2026-01-02T00:00:00.000Z",
    }) as WebServices["rotateChannelKey"],
    listNotifications: record("listNotifications", []) as WebServices["listNotifications"],
    listArtifacts: record("listArtifacts", []) as WebServices["listArtifacts"],
    getArtifact: () => Promise.reject(new Error("unused")),
    listSchedules: record("listSchedules", []) as WebServices["listSchedules"],
    getSchedule: record("getSchedule", {}) as WebServices["getSchedule"],
    createSchedule: record("createSchedule", {}) as WebServices["createSchedule"],
    deleteSchedule: record("deleteSchedule", undefined) as WebServices["deleteSchedule"],
    setScheduleEnabled: record("setScheduleEnabled", {}) as WebServices["setScheduleEnabled"],
    scheduleTicks: record("scheduleTicks", []) as WebServices["scheduleTicks"],
    metrics: notCalled,
    health: notCalled,
  };
  const app = createApp(services, { access: { routeAccess: () => "viewer", allows: () => true }, maxBodyBytes: 1024 });
  const send = (method: string, path: string, body?: string) =>
    app.request(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body,
    });
  return { calls, send };
}

async function refused(res: Response, status: number, message: RegExp): Promise<void> {
  const body = (await res.json()) as ErrorBody;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.match(body.error.message, message);
}

describe("user and audit routes: input", () => {
  it("pass what the request said to the services", async () => {
    const { calls, send } = recorder();
    assert.equal((await send("GET", "/users")).status, 200);
    assert.equal((await send("POST", "/users", JSON.stringify({ name: "alice", roles: ["viewer"] }))).status, 201);
    assert.equal((await send("POST", "/users/alice/disable")).status, 200);
    assert.equal((await send("POST", "/users/alice/disable", "{}")).status, 200);
    assert.equal((await send("GET", "/audit")).status, 200);
    assert.equal((await send("GET", "/audit?limit=1000&before=42")).status, 200);
    assert.deepEqual(calls, [
      ["listUsers"],
      ["addUser", "alice", ["viewer"], caller],
      ["disableUser", "alice", caller],
      ["disableUser", "alice", caller],
      ["listAudit", { limit: undefined, beforeId: undefined }],
      ["listAudit", { limit: 1000, beforeId: 42 }],
    ]);
  });

  it("refuse bad bodies, names and parameters, naming them; the services are not called", async () => {
    const { calls, send } = recorder();
    await refused(await send("POST", "/users"), 400, /request body is required: \{ "name"/);
    await refused(await send("POST", "/users", "{not json"), 400, /request body must be JSON/);
    await refused(await send("POST", "/users", "[1]"), 400, /must be a JSON object/);
    await refused(
      await send("POST", "/users", JSON.stringify({ name: "a", roles: ["viewer"], admin: true })),
      400,
      /unknown field 'admin': expected name, roles/,
    );
    await refused(await send("POST", "/users", JSON.stringify({ roles: ["viewer"] })), 400, /^name is required$/);
    await refused(
      await send("POST", "/users", JSON.stringify({ name: 7, roles: ["viewer"] })),
      400,
      /^name must be a string$/,
    );
    await refused(
      await send("POST", "/users", JSON.stringify({ name: "a".repeat(65), roles: ["viewer"] })),
      400,
      /^name is 65 characters; the limit is 64$/,
    );
    await refused(
      await send("POST", "/users", JSON.stringify({ name: "a", roles: "viewer" })),
      400,
      /^roles must be an array of strings$/,
    );
    await refused(
      await send("POST", "/users", JSON.stringify({ name: "a", roles: [1] })),
      400,
      /^roles\[0\] must be a string$/,
    );
    await refused(
      await send("POST", "/users", JSON.stringify({ name: "a", roles: Array(17).fill("viewer") })),
      400,
      /^roles has 17 entries; the limit is 16$/,
    );
    await refused(
      await send("POST", "/users", JSON.stringify({ name: "a".repeat(9000) })),
      413,
      /exceeds the limit of 8192 bytes/,
    );
    await refused(
      await send("POST", "/users/alice/disable", JSON.stringify({ why: "x" })),
      400,
      /unknown field 'why': this route takes no fields/,
    );
    await refused(await send("POST", `/users/${"a".repeat(65)}/disable`), 400, /user name is at most 64 characters/);
    await refused(
      await send("GET", "/audit?limit=0"),
      400,
      /invalid limit '0': expected a whole number from 1 to 1000/,
    );
    await refused(await send("GET", "/audit?limit=1001"), 400, /invalid limit '1001'/);
    await refused(await send("GET", "/audit?before=-3"), 400, /invalid before '-3'/);
    await refused(await send("GET", "/audit?lmit=3"), 400, /unknown query parameter 'lmit': expected limit, before/);
    await refused(await send("GET", "/users?all=1"), 400, /unknown query parameter 'all': this route takes none/);
    assert.deepEqual(calls, []);
  });
});

describe("channel and notification routes: input", () => {
  it("pass what the request said to the services", async () => {
    const { calls, send } = recorder();
    assert.equal((await send("GET", "/channels")).status, 200);
    const add = {
      name: "ops",
      type: "email",
      smtpUrl: "smtp://bot@mail:25",
      from: "a@b.c",
      to: ["x@y.z"],
      secret: "hunter22hunter22",
      url: "",
    };
    assert.equal((await send("POST", "/channels", JSON.stringify(add))).status, 201);
    assert.deepEqual(await (await send("DELETE", "/channels/ops")).json(), { removed: "ops" });
    assert.equal((await send("POST", "/channels/ops/test")).status, 200);
    assert.equal((await send("POST", "/channels/ops/rotate")).status, 200);
    assert.equal((await send("POST", "/channels/ops/rotate", JSON.stringify({ windowSeconds: 3600 }))).status, 200);
    assert.equal((await send("GET", "/notifications?channel=ops&limit=500")).status, 200);
    assert.equal((await send("GET", "/notifications")).status, 200);
    assert.deepEqual(calls, [
      ["listChannels"],
      // An empty string is no value: the service sees the field absent.
      [
        "addChannel",
        {
          name: "ops",
          type: "email",
          smtpUrl: "smtp://bot@mail:25",
          from: "a@b.c",
          to: ["x@y.z"],
          secret: "hunter22hunter22",
        },
        caller,
      ],
      ["removeChannel", "ops", caller],
      ["testChannel", "ops"],
      ["rotateChannelKey", "ops", undefined, caller],
      ["rotateChannelKey", "ops", 3600, caller],
      ["listNotifications", { channel: "ops", limit: 500 }],
      ["listNotifications", { channel: undefined, limit: undefined }],
    ]);
  });

  it("refuse bad bodies, names and parameters, naming them; the services are not called", async () => {
    const { calls, send } = recorder();
    await refused(await send("POST", "/channels", JSON.stringify({ name: "ops" })), 400, /^type is required$/);
    await refused(
      await send("POST", "/channels", JSON.stringify({ name: "ops", type: "webhook", url: 5 })),
      400,
      /^url must be a string$/,
    );
    await refused(
      await send("POST", "/channels", JSON.stringify({ name: "ops", type: "email", to: "x@y.z" })),
      400,
      /^to must be an array of strings$/,
    );
    await refused(
      await send("POST", "/channels", JSON.stringify({ name: "ops", type: "webhook", key: "whsec_x" })),
      400,
      /unknown field 'key': expected name, type, url/,
    );
    await refused(await send("POST", "/channels", "x".repeat(300 * 1024)), 413, /exceeds the limit of 262144 bytes/);
    await refused(
      await send("POST", "/channels/ops/rotate", JSON.stringify({ windowSeconds: -1 })),
      400,
      /^windowSeconds must be a whole number from 0 to 2592000, got -1$/,
    );
    await refused(
      await send("POST", "/channels/ops/rotate", JSON.stringify({ windowSeconds: "1h" })),
      400,
      /^windowSeconds must be a whole number/,
    );
    await refused(
      await send("POST", "/channels/ops/test", JSON.stringify({ message: "hi" })),
      400,
      /unknown field 'message'/,
    );
    await refused(await send("DELETE", `/channels/${"c".repeat(41)}`), 400, /channel name is at most 40 characters/);
    await refused(
      await send("GET", "/notifications?limit=501"),
      400,
      /invalid limit '501': expected a whole number from 1 to 500/,
    );
    await refused(await send("GET", "/notifications?limit=ten"), 400, /invalid limit 'ten'/);
    await refused(
      await send("GET", `/notifications?channel=${"c".repeat(41)}`),
      400,
      /invalid channel 'c+…': a channel name is at most 40 characters/,
    );
    await refused(
      await send("GET", "/notifications?chanel=ops"),
      400,
      /unknown query parameter 'chanel': expected channel, limit/,
    );
    assert.deepEqual(calls, []);
  });
});
