import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig, SERVER_ENV_VARS } from "./config";
import { tempDir } from "@dockyard/testkit";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("server config", () => {
  it("has defaults for everything", () => {
    const c = loadConfig({});
    assert.equal(c.databaseUrl, null);
    assert.equal(c.grpcListen, "127.0.0.1:7400");
    assert.equal(c.agentLostTimeoutMs, 15_000);
  });

  it("reports every bad variable at once", () => {
    assert.throws(
      () => loadConfig({ DOCKYARD_GRPC_LISTEN: "nope", DOCKYARD_LEASE_TTL_MS: "-5", DOCKYARD_JOIN_TOKEN: "short" }),
      (err: ConfigError) => {
        assert.equal(err.problems.length, 3);
        assert.match(err.message, /DOCKYARD_GRPC_LISTEN: expected host:port/);
        assert.match(err.message, /DOCKYARD_LEASE_TTL_MS/);
        assert.match(err.message, /join token must be at least 16/);
        return true;
      },
    );
  });

  it("reads secrets from NAME_FILE", () => {
    const f = path.join(tempDir("cfg"), "token");
    writeFileSync(f, "dyj_from_a_file_0123456789\n");
    assert.equal(loadConfig({ DOCKYARD_JOIN_TOKEN_FILE: f }).joinToken, "dyj_from_a_file_0123456789");
    assert.throws(
      () => loadConfig({ DOCKYARD_API_TOKEN_FILE: "/nonexistent/x" }),
      /DOCKYARD_API_TOKEN_FILE: cannot read/,
    );
  });

  it("takes a metrics token of its own, from the environment or a file", () => {
    assert.equal(loadConfig({}).metricsToken, null);
    assert.equal(loadConfig({ DOCKYARD_METRICS_TOKEN: "dym_0123456789abcdef" }).metricsToken, "dym_0123456789abcdef");
    const f = path.join(tempDir("cfg"), "metrics-token");
    writeFileSync(f, "dym_from_a_file_0123456789\n");
    assert.equal(loadConfig({ DOCKYARD_METRICS_TOKEN_FILE: f }).metricsToken, "dym_from_a_file_0123456789");
    assert.throws(() => loadConfig({ DOCKYARD_METRICS_TOKEN: "short" }), /metrics token must be at least 16/);
    assert.throws(
      () =>
        loadConfig({ DOCKYARD_METRICS_TOKEN: "same_token_0123456789", DOCKYARD_API_TOKEN: "same_token_0123456789" }),
      /DOCKYARD_METRICS_TOKEN: must differ from DOCKYARD_API_TOKEN/,
    );
  });

  it("sets the agents' fence to 70% of the lease TTL and refuses one that breaks the lease inequality", () => {
    assert.equal(loadConfig({}).leaseFenceMs, 10_500);
    assert.equal(loadConfig({ DOCKYARD_LEASE_TTL_MS: "8000" }).leaseFenceMs, 5600);
    assert.equal(loadConfig({ DOCKYARD_LEASE_TTL_MS: "20000", DOCKYARD_LEASE_FENCE_MS: "12000" }).leaseFenceMs, 12_000);
    assert.throws(
      () => loadConfig({ DOCKYARD_LEASE_FENCE_MS: "14500" }),
      /DOCKYARD_LEASE_FENCE_MS: fence 14500 ms \+ kill budget 1000 ms must stay below the lease TTL of 15000 ms/,
    );
    assert.throws(
      () => loadConfig({ DOCKYARD_LEASE_FENCE_MS: "4000" }),
      /DOCKYARD_LEASE_FENCE_MS: fence 4000 ms must be at least 6050 ms/,
    );
    assert.throws(
      () => loadConfig({ DOCKYARD_LEASE_TTL_MS: "3000" }),
      /DOCKYARD_LEASE_TTL_MS: fence 2100 ms \+ kill budget 1000 ms must stay below the lease TTL of 3000 ms/,
    );
  });

  it(".env.example lists every variable the server reads", () => {
    const listed = readFileSync(path.join(ROOT, ".env.example"), "utf8")
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.split("=")[0]);
    for (const name of SERVER_ENV_VARS) assert.ok(listed.includes(name), `${name} missing from .env.example`);
  });
});
