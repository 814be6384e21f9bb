// Users and the audit log through the CLI, as an admin runs them: users add|list|disable,
// token create --user, a disabled user's token refused at once, a user lacking a role told
// which one, runs carrying who started them, and `dockyard audit` showing every change in
// order. The log cannot be edited: UPDATE, DELETE and TRUNCATE are refused by the database.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Readable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { RunService, clientTlsCredentials, createClient } from "@dockyard/proto";
import type { AuditJson, UserJson } from "@dockyard/cli";
import { REPO_ROOT, startFarm, type Farm } from "../index";
import { dockyard } from "../helpers/status-cli";

const HOLD = `name: held
stages:
  wait: { executor: shell, agent: { pool: none }, command: 'true' }
`;

describe("users and the audit log", { timeout: 240_000 }, () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm();
  });
  after(async () => farm?.stop());

  const as = (token: string, args: string[]) => dockyard(farm, ["--token", token, ...args]);
  const clientOf = (token: string) =>
    createClient(RunService, farm.server.grpcAddress, {
      credentials: clientTlsCredentials(farm.server.pki.caPem),
      metadata: () => {
        const md = new grpc.Metadata();
        md.set("authorization", `Bearer ${token}`);
        return md;
      },
    });

  it("users add|list|disable and token create --user; roles are enforced; the audit log shows it all in order", async () => {
    const added = await dockyard(farm, ["users", "add", "alice", "--role", "operator", "--role", "approver"]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, "added user alice (operator, approver)\n");
    const noRole = await dockyard(farm, ["users", "add", "bob"]);
    assert.notEqual(noRole.code, 0);
    assert.match(noRole.stderr, /at least one --role/);
    const badRole = await dockyard(farm, ["users", "add", "bob", "--role", "root"]);
    assert.notEqual(badRole.code, 0);
    assert.match(badRole.stderr, /unknown role 'root': expected one of viewer, operator, approver, admin/);
    const twice = await dockyard(farm, ["users", "add", "alice", "--role", "viewer"]);
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /user 'alice' already exists/);

    const created = await dockyard(farm, ["token", "create", "--user", "alice", "-d", "alice's laptop"]);
    assert.equal(created.code, 0, created.stderr);
    const aliceToken = created.stdout.trim();
    assert.match(aliceToken, /^dya_/);
    assert.match(created.stderr, /created API token [0-9a-f-]{36} for user alice/);
    const noUser = await dockyard(farm, ["token", "create", "--user", "nobody"]);
    assert.notEqual(noUser.code, 0);
    assert.match(noUser.stderr, /user not found: nobody/);

    const listed = await dockyard(farm, ["users", "list", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const users = JSON.parse(listed.stdout) as UserJson[];
    assert.deepEqual(
      users.map((u) => [u.name, u.roles, u.activeTokens, u.disabledAt]),
      [
        ["admin", ["admin"], 1, null],
        ["alice", ["operator", "approver"], 1, null],
      ],
    );
    const table = await dockyard(farm, ["users", "list"]);
    assert.match(table.stdout, /^NAME +ROLES +CREATED +DISABLED +TOKENS\n/);
    assert.match(table.stdout, /\nalice +operator,approver +.+ +- +1\n/);

    const me = await as(aliceToken, ["whoami"]);
    assert.equal(me.stdout, "alice (operator, approver)\n", me.stderr);
    // alice is no admin: told which role the call needs. She may run and cancel.
    const denied = await as(aliceToken, ["users", "list"]);
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /permission denied: dockyard\.v1\.RunService\/ListUsers needs the 'admin' role; user 'alice' has operator, approver/,
    );
    const alice = clientOf(aliceToken);
    const run = (await alice.submitRun({ pipelineYaml: Buffer.from(HOLD), source: "test:held.yml" })).run!;
    assert.equal(run.startedBy, "alice", "the answer names who started it");
    assert.equal((await farm.client.getRun({ runId: run.id })).run!.startedBy, "alice", "and so does a later read");
    assert.equal((await alice.cancelRun({ runId: run.id })).run!.state, "canceled");
    alice.close();

    // A join token and an agent (registered, then revoked), as the admin.
    const joined = await dockyard(farm, ["token", "create", "-d", "ci"]);
    const joinId = /created join token ([0-9a-f-]{36})/.exec(joined.stderr)![1]!;
    await farm.startAgent({ name: "au-agent", executor: "shell" });
    const agentId = (await farm.pg.query("SELECT id FROM agents WHERE name = 'au-agent'")).rows[0].id as string;
    assert.equal((await dockyard(farm, ["agents", "revoke", agentId])).code, 0);
    assert.equal((await dockyard(farm, ["token", "revoke", joinId])).code, 0);

    // Disabling alice stops her token at once.
    const disabled = await dockyard(farm, ["users", "disable", "alice"]);
    assert.equal(disabled.code, 0, disabled.stderr);
    const refused = await as(aliceToken, ["runs"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /unauthenticated \(API token belongs to user 'alice', who is disabled\)/);
    const self = await dockyard(farm, ["users", "disable", "admin"]);
    assert.match(self.stderr, /you cannot disable yourself/);

    const audit = await dockyard(farm, ["audit", "--json"]);
    assert.equal(audit.code, 0, audit.stderr);
    const entries = JSON.parse(audit.stdout) as AuditJson[];
    const seen = entries.map((e) => `${e.actor} ${e.action} ${e.target}`);
    const expected = [
      "admin user.added alice",
      `admin token.created ${/created API token ([0-9a-f-]{36})/.exec(created.stderr)![1]}`,
      `alice run.started ${run.id}`,
      `alice run.canceled ${run.id}`,
      `admin token.created ${joinId}`,
      `agent:au-agent agent.registered ${agentId}`,
      `admin agent.revoked ${agentId}`,
      `admin token.revoked ${joinId}`,
      "admin user.disabled alice",
    ];
    assert.deepEqual(
      seen.filter((s) => expected.includes(s)),
      expected,
      `in order:\n${seen.join("\n")}`,
    );
    assert.ok(
      entries.every((e, i) => i === 0 || e.id > entries[i - 1]!.id),
      "oldest first",
    );
    assert.equal(entries.find((e) => e.action === "token.created" && e.details.kind === "api")!.details.user, "alice");
    const two = await dockyard(farm, ["audit", "--limit", "2", "--json"]);
    assert.deepEqual(
      (JSON.parse(two.stdout) as AuditJson[]).map((e) => e.action),
      entries.slice(-2).map((e) => e.action),
    );
    const text = await dockyard(farm, ["audit"]);
    assert.match(text.stdout, /^AT +ACTOR +ACTION +TARGET +DETAILS\n/);
    assert.match(text.stdout, /admin +user\.disabled +alice/);
    const badLimit = await dockyard(farm, ["audit", "--limit", "0"]);
    assert.notEqual(badLimit.code, 0);
    assert.match(badLimit.stderr, /invalid --limit '0': expected a whole number from 1 to 1000/);
  });

  it("secret set and rm are audited, never with the value", async () => {
    const value = "s3cr3t-value-for-audit";
    const set = await dockyardWithStdin(farm, ["secret", "set", "db-pass"], value);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await dockyard(farm, ["secret", "rm", "db-pass"])).code, 0);
    const entries = JSON.parse((await dockyard(farm, ["audit", "--json"])).stdout) as AuditJson[];
    assert.deepEqual(
      entries.filter((e) => e.target === "db-pass").map((e) => [e.actor, e.action, e.details]),
      [
        ["admin", "secret.set", { created: true }],
        ["admin", "secret.removed", {}],
      ],
    );
    const { rows } = await farm.pg.query("SELECT details::text AS d FROM audit_log");
    assert.ok(
      rows.every((r: { d: string }) => !r.d.includes(value)),
      "the value is nowhere in the log",
    );
  });

  it("the audit log cannot be edited: UPDATE, DELETE and TRUNCATE are refused", async () => {
    const count = async () => Number((await farm.pg.query("SELECT count(*) AS n FROM audit_log")).rows[0].n);
    const before = await count();
    assert.ok(before > 0, "there are entries to protect");
    for (const statement of ["UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log", "TRUNCATE audit_log"]) {
      await assert.rejects(farm.pg.query(statement), /audit_log is append-only/, statement);
    }
    assert.equal(await count(), before);
    assert.equal(
      Number((await farm.pg.query("SELECT count(*) AS n FROM audit_log WHERE action = 'forged'")).rows[0].n),
      0,
    );
    // Positive control: appending still works.
    await farm.pg.query("INSERT INTO audit_log (at, actor, action) VALUES (now(), 'test', 'test.appended')");
    assert.equal(await count(), before + 1);
  });
});

/** `dockyard ARGS` with `input` on stdin (secret set reads its value there). */
async function dockyardWithStdin(farm: Farm, args: string[], input: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(`${REPO_ROOT}/cli/bin/dockyard`, args, {
      env: {
        ...process.env,
        DOCKYARD_SERVER: farm.server.grpcAddress,
        DOCKYARD_TOKEN: farm.apiToken,
        DOCKYARD_CA_FILE: farm.caFile,
        NO_COLOR: "1",
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    Readable.from([input]).pipe(child.stdin);
  });
}
