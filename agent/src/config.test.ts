import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AGENT_ENV_VARS, AgentConfigError, loadAgentConfig } from "./config";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TOKEN = `dyj_0123456789abcdef.${"ab".repeat(32)}`;

describe("agent config", () => {
  it("parses labels and capacity", () => {
    const c = loadAgentConfig({
      DOCKYARD_JOIN_TOKEN: TOKEN,
      DOCKYARD_AGENT_LABELS: "os=linux, disk=ssd",
      DOCKYARD_AGENT_CAPACITY: "4",
    });
    assert.deepEqual(c.labels, { os: "linux", disk: "ssd" });
    assert.equal(c.capacity, 4);
  });

  it("binds the services' proxies on DOCKYARD_SERVICE_ADDRESS, all interfaces by default", () => {
    assert.equal(loadAgentConfig({ DOCKYARD_JOIN_TOKEN: TOKEN }).serviceAddress, "0.0.0.0");
    const c = loadAgentConfig({ DOCKYARD_JOIN_TOKEN: TOKEN, DOCKYARD_SERVICE_ADDRESS: "127.0.0.2" });
    assert.equal(c.serviceAddress, "127.0.0.2");
    assert.throws(
      () => loadAgentConfig({ DOCKYARD_JOIN_TOKEN: TOKEN, DOCKYARD_SERVICE_ADDRESS: "a b" }),
      /DOCKYARD_SERVICE_ADDRESS: expected an IP address or host name/,
    );
  });

  it("pushes ui-test metrics to DOCKYARD_PUSHGATEWAY_URL when it is an http(s) URL; none by default", () => {
    assert.equal(loadAgentConfig({ DOCKYARD_JOIN_TOKEN: TOKEN }).pushgatewayUrl, null);
    const c = loadAgentConfig({ DOCKYARD_JOIN_TOKEN: TOKEN, DOCKYARD_PUSHGATEWAY_URL: "http://127.0.0.1:9091" });
    assert.equal(c.pushgatewayUrl, "http://127.0.0.1:9091");
    for (const bad of ["127.0.0.1:9091", "ftp://gw:21", "not a url"])
      assert.throws(
        () => loadAgentConfig({ DOCKYARD_JOIN_TOKEN: TOKEN, DOCKYARD_PUSHGATEWAY_URL: bad }),
        /DOCKYARD_PUSHGATEWAY_URL: expected the Pushgateway's http\(s\) URL/,
        bad,
      );
  });

  it("reports every bad variable at once, including a missing join token", () => {
    assert.throws(
      () =>
        loadAgentConfig({
          DOCKYARD_AGENT_LABELS: "novalue",
          DOCKYARD_AGENT_CAPACITY: "0",
          DOCKYARD_AGENT_EXECUTOR: "vm",
        }),
      (err: AgentConfigError) => {
        assert.equal(err.problems.length, 4, err.message);
        assert.match(err.message, /DOCKYARD_JOIN_TOKEN: is required/);
        assert.match(err.message, /DOCKYARD_AGENT_LABELS: expected k=v/);
        return true;
      },
    );
  });

  it("checks label keys with the pipeline's pattern", () => {
    const c = loadAgentConfig({ DOCKYARD_JOIN_TOKEN: TOKEN, DOCKYARD_AGENT_LABELS: "kubernetes.io/zone=eu-1:a=b" });
    assert.deepEqual(c.labels, { "kubernetes.io/zone": "eu-1:a=b" });
    for (const labels of ["__proto__=x", "-a=b", `${"k".repeat(64)}=v`, "=v"]) {
      assert.throws(
        () => loadAgentConfig({ DOCKYARD_JOIN_TOKEN: TOKEN, DOCKYARD_AGENT_LABELS: labels }),
        /DOCKYARD_AGENT_LABELS: expected k=v/,
        labels,
      );
    }
  });

  it("takes the CA fingerprint from the join token, and refuses a token that cannot verify the server", () => {
    const c = loadAgentConfig({ DOCKYARD_JOIN_TOKEN: TOKEN });
    assert.equal(c.joinToken, "dyj_0123456789abcdef", "only the secret part is the token");
    assert.equal(c.caFingerprint, "ab".repeat(32));
    assert.throws(
      () => loadAgentConfig({ DOCKYARD_JOIN_TOKEN: "dyj_0123456789abcdef" }),
      /has no CA fingerprint .*cannot verify the server/,
    );
    assert.equal(
      loadAgentConfig({ DOCKYARD_JOIN_TOKEN: "dyj_0123456789abcdef", DOCKYARD_CA_FILE: "/etc/ca.crt" }).caFile,
      "/etc/ca.crt",
    );
    assert.equal(
      loadAgentConfig({ DOCKYARD_JOIN_TOKEN: "dyj_0123456789abcdef", DOCKYARD_INSECURE: "true" }).insecure,
      true,
    );
  });

  it(".env.example lists every variable the agent reads", () => {
    const listed = readFileSync(path.join(ROOT, ".env.example"), "utf8")
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.split("=")[0]);
    for (const name of AGENT_ENV_VARS) assert.ok(listed.includes(name), `${name} missing from .env.example`);
  });
});
