// Builds and starts one control-plane replica: database, NATS, scheduler,
// gRPC (agents and clients) and HTTP (API, /metrics). `stop()` undoes it.
import * as grpc from "@grpc/grpc-js";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "pino";
import {
  AgentService,
  RunService,
  serviceDefinition,
  serverTlsCredentials,
  FarmSealer,
  MAX_MESSAGE_BYTES,
  releaseVersionText,
} from "@dockyard/proto";
import { createApp } from "@dockyard/web";
import { PIPELINE_LIMITS } from "@dockyard/pipeline";
import type { ServerConfig } from "./config";
import { systemClock, type Clock } from "./clock";
import { openDatabase, type Database } from "./store/db";
import { ensureApiToken, ensureJoinToken } from "./store/tokens";
import { bootstrapApiToken } from "./bootstrap-token";
import { ensureAdminUser } from "./store/users";
import { createMetrics } from "./metrics";
import { Scheduler } from "./scheduler/scheduler";
import { NatsBus } from "./transport/nats/nats-bus";
import { liveServices } from "./web-live";
import { agentHandlers } from "./transport/grpc/agent-handlers";
import { PlacementCache } from "./scheduler/placement-cache";
import { runHandlers } from "./transport/grpc/run-handlers";
import { userHandlers } from "./transport/grpc/user-handlers";
import { guardService } from "./transport/grpc/guard";
import { routeAccess } from "./access/route-access";
import { toAssignment, toRunEvent } from "./transport/convert";
import { AgentStreams } from "./transport/grpc/agent-streams";
import { RunsService } from "./runs-service";
import { webServices } from "./web-services";
import { loadKeyring } from "./secrets/keyring";
import { SecretStore } from "./secrets/secret-store";
import { ensurePki, type Pki } from "./pki/pki";
import { DependencyHealth } from "./health";
import { needsLookup } from "./stages/assignment";
import { assignmentInputsLoader } from "./stages/assignment-inputs";
import { ServerStageRunner } from "./stages/server-runner";
import { SERVER_KINDS, type ServerStageKind } from "./stages/index";
import { sql } from "drizzle-orm";
import { ChannelStore, NotifyWorker, targetPolicy } from "./notify/index";
import { NotifyService } from "./notify/service";
import { HookStore } from "./hooks/hook-store";
import { ScheduleService } from "./schedules/schedule-service";
import { ScheduleTicker } from "./schedules/ticker";
import { scheduleHandlers } from "./transport/grpc/schedule-handlers";
import { hookHandlers } from "./transport/grpc/hook-handlers";
import { repoHandlers } from "./transport/grpc/repo-handlers";
import { RepoStore } from "./git-hooks/repo-store";
import { createNotifyMetrics } from "./notify/metrics";
import { alertHandlers } from "./transport/grpc/alert-handlers";
import { AlertReceiver } from "./alerts/receiver";

export interface ServerHandle {
  grpcAddress: string;
  httpUrl: string;
  /** The farm's TLS material and keys (clients trust `pki.caPem`; join tokens carry `pki.caFingerprint`). */
  pki: Pki;
  /** NATS messages this replica dropped as not sealed with the farm key (forged, replayed onto another subject). */
  refusedMessages(): number;
  db: Database;
  scheduler: Scheduler;
  registry: Registry;
  /** Incoming decision webhooks (what `dockyard hooks` manages). */
  hooks: HookStore;
  stop(): Promise<void>;
}

export interface ServerDeps {
  log: Logger;
  /** More server-run kinds than the registry's (tests: probe kinds that no pipeline can name). */
  serverKinds?: Record<string, ServerStageKind>;
  clock?: Clock;
  registry?: Registry;
}

function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i), port: Number(listen.slice(i + 1)) };
}

export async function startServer(config: ServerConfig, deps: ServerDeps): Promise<ServerHandle> {
  const { log } = deps;
  const clock = deps.clock ?? systemClock;
  const registry = deps.registry ?? new Registry();
  if (!deps.registry) collectDefaultMetrics({ register: registry });
  // Before the database: a bad key file stops the start with nothing to close.
  const keyring = loadKeyring({ keyFile: config.secretKeyFile, oldKeyFiles: config.secretOldKeyFiles }, log);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    onError: (err) => log.warn({ err: err.message }, "idle database connection failed"),
    onWait: (err, attempt) =>
      log.warn({ err: (err as Error)?.message, attempt }, "waiting for the database (it does not answer yet)"),
  });
  const now = clock.now();
  if (config.joinToken) await ensureJoinToken(db.db, config.joinToken, "configured", now);
  // The configured (or bootstrapped) API token is the `admin` user's: the demo and first-time setup start as an admin.
  if (config.apiToken)
    await ensureApiToken(db.db, config.apiToken, await ensureAdminUser(db.db, now), "configured", now);
  else await bootstrapApiToken(db, config.dataDir, log, now);
  const secrets = new SecretStore(db.db, keyring);
  const rotation = await secrets.rotate();
  if (rotation.rotated > 0)
    log.info({ count: rotation.rotated, keyId: keyring.currentKeyId }, "secrets re-encrypted with the current key");
  if (rotation.unreadable.length > 0) {
    log.warn(
      { secrets: rotation.unreadable },
      "secrets sealed with a key that is not configured; stages using them will error",
    );
  }

  const notifyPolicy = targetPolicy(config.notify.allowPrivate);
  const channelStore = new ChannelStore(db.db, secrets, notifyPolicy);
  // The worker starts with the HTTP server (its links); until then a kick is a no-op.
  let kickNotify = () => {};
  const hookStore = new HookStore(db.db, secrets);
  const repoStore = new RepoStore(db.db, secrets);
  const notifyService = new NotifyService(db.db, channelStore, secrets, clock, () => kickNotify());

  const pki = await ensurePki({
    dir: config.pkiDir,
    sans: [splitListen(config.grpcListen).host, ...config.tlsSans].filter((h) => h !== "0.0.0.0" && h !== "::"),
    ...(config.tls ?? {}),
  });
  const nc: NatsConnection = await connect({
    servers: config.natsUrl,
    name: "dockyard-server",
    maxReconnectAttempts: -1,
  });
  const bus = new NatsBus(
    nc,
    config.natsPrefix,
    { signingKey: pki.signingKey.privateKey, sealer: new FarmSealer(pki.farmKey) },
    log,
  );
  const metrics = createMetrics(registry, db.db);
  const publish = (events: Parameters<typeof toRunEvent>[0][]) => bus.publishEvents(events.map(toRunEvent));
  const placements = new PlacementCache(config.leaseTtlMs, () => clock.now().getTime());
  const streams = new AgentStreams();
  const health = new DependencyHealth(
    {
      postgres: () => db.liveDb.execute(sql`SELECT 1`),
      nats: () => nc.rtt(),
    },
    config.leaseTtlMs,
    log.child({ component: "health" }),
    () => clock.now().getTime(),
    { stallGrace: config.stallGrace },
  );
  health.start();
  let serverStages: ServerStageRunner | undefined;
  const scheduler = new Scheduler(
    db.db,
    db.liveDb,
    clock,
    {
      dispatch: (p) => {
        placements.remember(p);
        // Down the agent's stream when it is open here; else a signed wake-up, and the agent
        // fetches the assignment (always so when it reads secrets or earlier outputs, which the push does not carry).
        if (needsLookup(p.spec) || !streams.push(p.agentId, toAssignment(p, config)))
          bus.assign(p.agentId, p.attemptId);
      },
      cancel: (agentId, attemptId, reason) => bus.cancel(agentId, attemptId, reason),
      events: publish,
      kickOthers: () => bus.kickAll(),
      // The runner is built below (it needs the scheduler); a child ending before then waits for its first tick.
      childEnded: () => serverStages?.tick(),
    },
    { ...config, holdOff: () => health.holdOff() },
    metrics,
    log.child({ component: "scheduler" }),
  );
  bus.onKick(() => scheduler.kick());
  serverStages = new ServerStageRunner(
    db.db,
    { ...SERVER_KINDS, ...deps.serverKinds },
    clock,
    {
      ended: (ended) => scheduler.afterEnded(ended, "server"),
      publish,
      kick: () => scheduler.kick(),
    },
    log.child({ component: "server-stages" }),
  );
  const runs = new RunsService({
    db: db.db,
    serverStages,
    clock,
    scheduler,
    publish,
    secrets,
    notify: { checkPipeline: (p, db) => notifyService.checkPipeline(p, db) },
    caFingerprint: pki.caFingerprint,
    log: log.child({ component: "runs" }),
    defaultRegistry: config.registry,
  });
  // Every replica ticks; row locks keep each tick to one of them (schedules/ticker.ts).
  const ticker = new ScheduleTicker({
    db: db.db,
    clock,
    runs,
    log: log.child({ component: "schedules" }),
    continuousIntervalMs: config.schedules.continuousIntervalMs,
    pollMs: config.schedules.pollMs,
  });
  const schedules = new ScheduleService({ db: db.db, clock, runs, kick: () => ticker.kick() });

  if (config.insecure) {
    log.warn(
      { listen: config.grpcListen },
      "INSECURE: gRPC is plaintext; agent credentials, secrets and logs cross the network unencrypted. For local experiments only",
    );
  }
  const credentials = config.insecure
    ? grpc.ServerCredentials.createInsecure()
    : serverTlsCredentials(pki.serverCertChainPem, pki.serverKeyPem);
  const grpcServer = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_time_ms": 20_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
  });
  // Every handler goes through the access guard, driven by access/role-table.ts (agent methods check the agent's
  // identity themselves).
  const authenticate = (token: string) => runs.tokens.authenticate(token);
  const guardLog = log.child({ component: "access" });
  grpcServer.addService(
    serviceDefinition(AgentService),
    guardService(
      AgentService,
      agentHandlers({
        db: db.db,
        liveDb: db.liveDb,
        clock,
        scheduler,
        metrics,
        leaseTtlMs: config.leaseTtlMs,
        leaseFenceMs: config.leaseFenceMs,
        dependencyDown: () => health.dependencyDown(),
        placements,
        publish,
        log: log.child({ component: "agent-api" }),
        assignmentInputs: assignmentInputsLoader(db.db, secrets),
        streams,
        registration: { timings: config, serverSigningKey: pki.signingKey.publicRaw },
      }),
      authenticate,
      guardLog,
    ) as unknown as grpc.UntypedServiceImplementation,
  );
  const runApiLog = log.child({ component: "run-api" });
  grpcServer.addService(
    serviceDefinition(RunService),
    guardService(
      RunService,
      {
        ...runHandlers(runs, db.db, bus, runApiLog, notifyService),
        ...userHandlers(db.db, clock, runApiLog),
        ...hookHandlers(hookStore, clock, runApiLog),
        ...repoHandlers(repoStore, clock, runApiLog),
        ...alertHandlers(db.db, runApiLog),
        ...scheduleHandlers(schedules, runApiLog),
      },
      authenticate,
      guardLog,
    ) as unknown as grpc.UntypedServiceImplementation,
  );
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(config.grpcListen, credentials, (err, port) => (err ? reject(err) : resolve(port))),
  );

  const alerts = new AlertReceiver({
    db: db.db,
    clock,
    services: runs.services,
    farmChannels: config.alertChannels,
    registry,
    kickNotify: () => kickNotify(),
    log: log.child({ component: "alerts" }),
  });
  const httpLog = log.child({ component: "http-api" });
  const app = createApp(
    webServices(
      runs,
      registry,
      () => health.ready(),
      {
        db: db.db,
        hooks: hookStore,
        clock,
        decide: async (ref, stage, decision, caller) => (await runs.decide(ref, stage, decision, caller)).id,
      },
      { db: db.db, clock, notify: notifyService, alerts, repos: repoStore },
      schedules,
      liveServices(runs, db.db, bus, (err) => httpLog.warn({ err }, "runs feed read failed")),
    ),
    {
      maxBodyBytes: PIPELINE_LIMITS.maxBytes,
      version: releaseVersionText(),
      live: { bufferBytes: config.sseBufferBytes, heartbeatMs: config.sseHeartbeatMs },
      metricsToken: config.metricsToken,
      alertToken: config.alertToken,
      rateLimit: config.apiRateLimit,
      onError: (err) => httpLog.error({ err }, "unexpected error in HTTP handler"),
      access: routeAccess,
    },
  );
  const http = splitListen(config.httpListen);
  const httpServer = serve({ fetch: app.fetch, hostname: http.host, port: http.port });
  await new Promise<void>((resolve) => httpServer.once("listening", () => resolve()));
  const httpPort = (httpServer.address() as AddressInfo).port;

  scheduler.start();
  // Server-run kinds (approval) start on the runner's own beat; their timers wake it in between.
  serverStages.start(config.schedulerIntervalMs);
  const grpcHost = splitListen(config.grpcListen).host;
  // Outbox deliveries: any replica sends any due message (rows are claimed with SKIP LOCKED and leased).
  const notifyWorker = new NotifyWorker(
    db.db,
    channelStore,
    secrets,
    notifyPolicy,
    clock,
    log.child({ component: "notify" }),
    {
      retryScale: config.notify.retryScale,
      fallbackChannel: config.notify.fallbackChannel,
      leaseMs: config.notify.leaseMs,
      metrics: createNotifyMetrics(registry, db.db),
      linkBase: `http://${http.host}:${httpPort}`,
    },
  );
  notifyWorker.start();
  kickNotify = () => notifyWorker.kick();
  ticker.start();
  log.info(
    {
      grpc: `${grpcHost}:${grpcPort}`,
      http: `http://${http.host}:${httpPort}`,
      database: db.kind,
      tls: !config.insecure,
      caFile: pki.files.caCert ?? pki.files.ca,
      caFingerprint: pki.caFingerprint,
    },
    "server started",
  );

  return {
    grpcAddress: `${grpcHost}:${grpcPort}`,
    httpUrl: `http://${http.host}:${httpPort}`,
    pki,
    refusedMessages: () => bus.refused,
    db,
    scheduler,
    registry,
    hooks: hookStore,
    async stop() {
      health.stop();
      serverStages.stop();
      await ticker.stop();
      await notifyWorker.stop();
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
