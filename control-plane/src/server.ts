// Builds and starts one control-plane replica: database, NATS, scheduler,
// gRPC (agents and clients) and HTTP (API, /metrics). `stop()` undoes it.
import { mkdirSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "pino";
import { AgentService, RunService, serviceDefinition, MAX_MESSAGE_BYTES } from "@dockyard/proto";
import { createApp } from "@dockyard/web";
import { PIPELINE_LIMITS } from "@dockyard/pipeline";
import type { ServerConfig } from "./config";
import { systemClock, type Clock } from "./clock";
import { openDatabase, type Database } from "./store/db";
import { ensureToken, countApiTokens } from "./store/tokens";
import { createMetrics } from "./metrics";
import { Scheduler } from "./scheduler/scheduler";
import { NatsBus } from "./transport/nats/nats-bus";
import { handleHeartbeat, handleRegistration } from "./transport/nats/agent-session";
import { agentHandlers } from "./transport/grpc/agent-handlers";
import { PlacementCache } from "./scheduler/placement-cache";
import { runHandlers } from "./transport/grpc/run-handlers";
import { toAssignment, toRunEvent } from "./transport/convert";
import { RunsService } from "./runs-service";
import { webServices } from "./web-services";
import { newSecret } from "./ids";
import { eq } from "drizzle-orm";
import { agents } from "./store/schema";

export interface ServerHandle {
  grpcAddress: string;
  httpUrl: string;
  db: Database;
  scheduler: Scheduler;
  registry: Registry;
  stop(): Promise<void>;
}

export interface ServerDeps {
  log: Logger;
  clock?: Clock;
  registry?: Registry;
}

function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i), port: Number(listen.slice(i + 1)) };
}

/** With no API token configured and none stored, create one and keep it in the data dir (mode 0600). */
async function bootstrapApiToken(db: Database, dataDir: string, log: Logger, now: Date): Promise<void> {
  if ((await countApiTokens(db.db)) > 0) return;
  const file = path.join(dataDir, "api-token");
  const token = existsSync(file) ? readFileSync(file, "utf8").trim() : newSecret("dya_");
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  await ensureToken(db.db, "api", token, "bootstrap", now);
  log.warn({ file }, "no API token configured; generated one");
}

export async function startServer(config: ServerConfig, deps: ServerDeps): Promise<ServerHandle> {
  const { log } = deps;
  const clock = deps.clock ?? systemClock;
  const registry = deps.registry ?? new Registry();
  if (!deps.registry) collectDefaultMetrics({ register: registry });
  const db = await openDatabase({
    databaseUrl: config.databaseUrl, dataDir: config.dataDir,
    onError: (err) => log.warn({ err: err.message }, "idle database connection failed"),
  });
  const now = clock.now();
  if (config.joinToken) await ensureToken(db.db, "join", config.joinToken, "configured", now);
  if (config.apiToken) await ensureToken(db.db, "api", config.apiToken, "configured", now);
  else await bootstrapApiToken(db, config.dataDir, log, now);

  const nc: NatsConnection = await connect({ servers: config.natsUrl, name: "dockyard-server", maxReconnectAttempts: -1 });
  const bus = new NatsBus(nc, config.natsPrefix, log);
  const metrics = createMetrics(registry, db.db);
  const publish = (events: Parameters<typeof toRunEvent>[0][]) => bus.publishEvents(events.map(toRunEvent));
  // Cancels are rare: look the agent's current session key up each time.
  const cancelAttempt = (agentId: string, attemptId: string, reason: string) => {
    db.db.select({ key: agents.sessionHash }).from(agents).where(eq(agents.id, agentId))
      .then(([row]) => row?.key && bus.cancel(agentId, row.key, attemptId, reason))
      .catch((err: unknown) => log.warn({ err, attemptId }, "cancel not sent; the agent learns it at its next renewal or poll"));
  };
  const placements = new PlacementCache(config.leaseTtlMs, () => clock.now().getTime());
  const scheduler = new Scheduler(db.db, db.liveDb, clock, {
    dispatch: (p) => {
      placements.remember(p);
      bus.assign(p.agentId, p.sessionKey, toAssignment(p, config.leaseTtlMs));
    },
    cancel: cancelAttempt,
    events: publish,
    kickOthers: () => bus.kickAll(),
  }, config, metrics, log.child({ component: "scheduler" }));
  bus.onKick(() => scheduler.kick());
  bus.serveRegistration(handleRegistration(db.db, clock, config, log));
  bus.serveHeartbeats(handleHeartbeat(db.liveDb, clock));
  const runs = new RunsService({
    db: db.db, clock, scheduler, publish, cancelAttempt,
  });

  const grpcServer = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_time_ms": 20_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
  });
  grpcServer.addService(serviceDefinition(AgentService), agentHandlers({
    db: db.db, clock, scheduler, metrics, leaseTtlMs: config.leaseTtlMs, placements, publish, log: log.child({ component: "agent-api" }),
  }) as unknown as grpc.UntypedServiceImplementation);
  grpcServer.addService(serviceDefinition(RunService), runHandlers(runs, db.db, bus, log.child({ component: "run-api" })) as unknown as grpc.UntypedServiceImplementation);
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(config.grpcListen, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));

  const app = createApp(webServices(runs, registry, async () => ({
    ok: !nc.isClosed(), checks: { nats: nc.isClosed() ? "closed" : "ok", database: db.kind },
  })), { maxBodyBytes: PIPELINE_LIMITS.maxBytes });
  const http = splitListen(config.httpListen);
  const httpServer = serve({ fetch: app.fetch, hostname: http.host, port: http.port });
  await new Promise<void>((resolve) => httpServer.once("listening", () => resolve()));
  const httpPort = (httpServer.address() as AddressInfo).port;

  scheduler.start();
  const grpcHost = splitListen(config.grpcListen).host;
  log.info({ grpc: `${grpcHost}:${grpcPort}`, http: `http://${http.host}:${httpPort}`, database: db.kind }, "server started");

  return {
    grpcAddress: `${grpcHost}:${grpcPort}`,
    httpUrl: `http://${http.host}:${httpPort}`,
    db,
    scheduler,
    registry,
    async stop() {
      await scheduler.stop();
      await bus.close();
      // Open watch streams would hold tryShutdown forever: give calls a moment, then cut.
      await Promise.race([
        new Promise<void>((resolve) => grpcServer.tryShutdown(() => resolve())),
        new Promise<void>((resolve) => setTimeout(resolve, 1_000).unref()),
      ]);
      grpcServer.forceShutdown();
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      (httpServer as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      await nc.drain().catch(() => undefined);
      await db.close();
    },
  };
}
