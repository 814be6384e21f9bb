import { test } from "node:test";
import assert from "node:assert/strict";
import { envOverlay } from "../config";
import { agentEnv, serverEnv } from "./processes";

test("agent flags map to env, unset flags leave the env alone", () => {
  const env = envOverlay(
    agentEnv({
      server: "cp:7400",
      tokenFile: "/etc/dockyard/join-token",
      labels: "os=linux",
      capacity: 4,
      executor: "shell",
    }),
    {
      DOCKYARD_AGENT_NAME: "from-env",
      DOCKYARD_AGENT_CAPACITY: "1",
    },
  );
  assert.deepEqual(env, {
    DOCKYARD_SERVER_URL: "cp:7400",
    DOCKYARD_JOIN_TOKEN_FILE: "/etc/dockyard/join-token",
    DOCKYARD_AGENT_LABELS: "os=linux",
    DOCKYARD_AGENT_CAPACITY: "4",
    DOCKYARD_AGENT_EXECUTOR: "shell",
    DOCKYARD_AGENT_NAME: "from-env",
  });
});

test("server flags map to env", () => {
  assert.deepEqual(envOverlay(serverEnv({ grpcListen: ":7400", databaseUrl: "postgres://x", dataDir: "/d" }), {}), {
    DOCKYARD_GRPC_LISTEN: ":7400",
    DATABASE_URL: "postgres://x",
    DOCKYARD_DATA_DIR: "/d",
  });
});
