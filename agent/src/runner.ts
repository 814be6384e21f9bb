// Runs one attempt: open its stream, start the executor, ship output as
// ordered chunks (spooled first), renew the lease, report the end and wait
// for the server to acknowledge it. Executor-agnostic.
import { performance } from "node:perf_hooks";
import type { Assignment } from "@dockyard/proto";
import type { Logger } from "pino";
import type { AttemptSpec } from "./executor/types";
import type { AgentStage, StageTools } from "./stages/kind";
import type { StageExit } from "./stages/kind";
import { isAgentError } from "./errors";
import { MAX_SPOOL_BYTES, type AttemptSpool, type FinalStatus, type SpoolJournal } from "./logs/spool";
import { LogBatcher } from "./logs/log-batcher";
import { OrderedOutput } from "./logs/ordered-output";
import { AttemptChannel, type FinishResult } from "./transport/attempt-channel";
import { SecretMasker } from "./secrets/masker";
import type { AttemptMux } from "./transport/attempt-mux";
import { SUPERVISOR_STOPPED, type Supervisor } from "./supervisor/client";
import type { FencedAttempt, LeaseFence } from "./lease/fence";
import { fenceFor } from "./lease/fence-timing";

export const STREAM = { stdout: 1, stderr: 2, system: 3 } as const;
/** Output waiting for the server's acknowledgement before the runner stops reading more. */
const MAX_UNACKED_BYTES = 32 * 1024 * 1024;
/** A renewal unanswered this long moves the stream to another replica (see renew()). */
const RENEW_ANSWER_MS = 1000;
/** Longest a `started` report waits for the first output to travel with (see run()). */
const STARTED_DELAY_MS = 10;

/** Why the agent stopped an attempt itself. */
export type StopReason = "canceled" | "timeout" | "lost" | "rejected";

export interface RunnerDeps {
  mux: AttemptMux;
  /** The handler of the assignment's kind, and the tools it works with. */
  stage: AgentStage;
  tools: StageTools;
  agentId: string;
  journal: SpoolJournal;
  log: Logger;
  /** Stops the attempt's process if this agent dies or freezes (held from start to remove). */
  supervisor?: Supervisor;
  /** Stops the attempt if its lease could not be renewed for its fence (see lease/fence.ts). */
  fence?: LeaseFence;
}

export class AttemptRunner {
  private readonly abort = new AbortController();
  private stopReason: StopReason | null = null;
  private stopMessage = "";
  private seq = 0;
  private channel!: AttemptChannel;
  private spool!: AttemptSpool;
  private roomWaiters: (() => void)[] = [];
  private startedReported = false;
  /** The attempt under the agent's lease fence, from the stream's creation to the process's end. */
  private fenced: FencedAttempt | undefined;

  /** Every secret value of this attempt, masked in its output before it is spooled or sent. */
  private readonly masker: SecretMasker;

  constructor(
    readonly assignment: Assignment,
    private readonly deps: RunnerDeps,
  ) {
    const registryPassword = assignment.spec?.registry?.password;
    this.masker = new SecretMasker([
      ...(assignment.spec?.secrets ?? []).map((s) => s.value),
      ...(registryPassword?.length ? [registryPassword] : []),
    ]);
  }

  get attemptId(): string {
    return this.assignment.attemptId;
  }

  /** Whether the server still counts this attempt against our capacity (false once its end is acknowledged). */
  holdsSlot = true;

  /** Stop the attempt (cancel from the server, local timeout, lease loss, agent abort). */
  stop(reason: StopReason, message: string): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.stopMessage = message;
    this.abort.abort();
  }

  async run(): Promise<FinishResult> {
    const a = this.assignment;
    const log = this.deps.log.child({ attemptId: a.attemptId, stage: a.stageName, runId: a.runId });
    const ttl = Number(a.leaseTtlMs) || 15_000;
    const spec = this.toSpec();
    let final: FinalStatus;
    let startedTimer: NodeJS.Timeout | undefined;
    let renewTimer: NodeJS.Timeout | undefined;
    let timeout: NodeJS.Timeout | undefined;
    try {
      // The process first: it starts while the spool and the stream are set up.
      const starting = this.deps.stage.start(a, spec, this.deps.tools, this.abort.signal);
      starting.catch(() => undefined); // awaited below
      this.spool = this.deps.journal.begin({
        attemptId: a.attemptId,
        leaseId: a.leaseId,
        stageName: a.stageName,
        runId: a.runId,
      });
      const batcher = new LogBatcher({
        maxChunkBytes: 32 * 1024,
        maxDelayMs: 200,
        hasRoom: () => this.channel.hasRoom,
        emit: (stream, data) => this.emit(stream, data),
      });
      this.channel = new AttemptChannel(
        this.deps.mux,
        a.attemptId,
        a.leaseId,
        {
          onRejected: (message) => this.stop("rejected", message),
          onRoom: () => {
            batcher.onRoom();
            for (const w of this.roomWaiters.splice(0)) w();
          },
          onRenewed: (sentAt) => this.fenced?.renewed(sentAt),
          onHeld: (address, sentAt) => this.fenced?.held(address, sentAt),
        },
        log,
      );
      // The fence: no acknowledged renewal for fenceMs (and no sign that no server can give the
      // stage away) stops the stage, SIGKILLed by the supervisor, before the server can retry it.
      this.fenced = this.deps.fence?.track(a.attemptId, fenceFor(a, log), (silentMs) => {
        this.stop("lost", `lease not renewed for ${silentMs} ms; the agent stopped the stage`);
        this.deps.supervisor?.kill(a.attemptId);
      });
      // Renewals keep the lease; when they fail the stage runs on while the fence allows: the
      // server does not give a stage away while it (or its database) is down or frozen, and
      // grants agents a lease TTL to report in after it is back. What stops a stage is the
      // server saying so (cancel, rejected lease), the fence (renewals failing while some
      // server may be live), or this agent dying or freezing (its supervisor then stops it).
      renewTimer = setInterval(() => this.renew(ttl), Math.max(50, Math.floor(ttl / 4))).unref();
      const timeoutMs = Number(a.spec?.timeoutMs ?? 0n);
      if (timeoutMs > 0)
        timeout = setTimeout(
          () => this.stop("timeout", `stage exceeded its timeout of ${timeoutMs} ms`),
          timeoutMs,
        ).unref();
      // Open the stream without waiting for the server's ack: the first log byte should not
      // wait for a round trip. A refused lease arrives as `rejected` and stops the executor.
      void this.channel.open();
      let handle;
      try {
        handle = await starting;
        log.debug("executor started");
      } catch (err) {
        final = this.finalFor(null, err);
        return await this.finish(final, log);
      }
      if (handle.hold)
        this.deps.supervisor?.hold(a.attemptId, handle.hold, ttl, () => this.stop("lost", SUPERVISOR_STOPPED));
      if (this.stopReason === "rejected") return "rejected";
      // `started` waits for the first output (at most STARTED_DELAY_MS): the server then writes
      // both in one statement, and the first log line does not wait for a commit of its own.
      startedTimer = setTimeout(() => this.reportStarted(), STARTED_DELAY_MS);
      // Masked per stream, passed on in the order read across both (see ordered-output.ts).
      const output = new OrderedOutput(this.masker, (stream, data) => batcher.push(stream, data));
      for await (const chunk of handle.output) {
        output.push(chunk.stream === "stderr" ? STREAM.stderr : STREAM.stdout, chunk.data);
        // Backpressure: stop reading output (the process then blocks on its pipe) while much
        // is waiting to be sent, say during a long server outage; the spool has all of it.
        while (batcher.pendingBytes > 1024 * 1024 || this.channel.unackedBytes > MAX_UNACKED_BYTES) {
          await new Promise<void>((r) => this.roomWaiters.push(r));
        }
      }
      output.flush();
      log.debug("output ended");
      let exit;
      try {
        exit = await handle.wait();
      } catch (err) {
        // The work failed in a way it did not report as an exit (a bug, a lost engine): the
        // attempt still ends, as errored with the message, instead of waiting out its lease.
        log.error({ err }, "stage work failed");
        batcher.flush();
        this.reportStarted();
        return await this.finish(this.finalFor(null, err), log);
      }
      // A SIGKILL may be our supervisor's, done while we were frozen: hear it out before reporting.
      if (exit.exitCode === 137) await this.deps.supervisor?.sync();
      log.debug({ exitCode: exit.exitCode }, "process exited");
      batcher.flush();
      this.reportStarted();
      final = this.finalFor(exit, null);
      return await this.finish(final, log);
    } finally {
      clearTimeout(startedTimer);
      clearInterval(renewTimer);
      clearTimeout(timeout);
      this.fenced?.untrack();
      await this.deps.stage
        .remove(a, spec, this.deps.tools)
        .catch((err: unknown) => log.warn({ err }, "executor remove failed"));
      this.deps.supervisor?.release(a.attemptId);
    }
  }

  /**
   * Renew the lease; a renewal still unanswered after RENEW_ANSWER_MS (or TTL/8 if longer) moves
   * the agent's stream to another replica first, so a frozen replica cannot cost the lease while
   * a live one could renew it (the fence, lease/fence.ts, runs meanwhile).
   */
  private renew(ttl: number): void {
    const pending = this.channel.renewPendingSince;
    const address = this.channel.address;
    if (pending !== null && address && performance.now() - pending > Math.max(RENEW_ANSWER_MS, ttl / 8)) {
      this.deps.log.warn(
        { attemptId: this.attemptId, address, waitedMs: Math.round(performance.now() - pending) },
        "lease renewal unanswered; moving to another replica",
      );
      this.deps.mux.failover(address);
    }
    this.channel.renew();
  }

  /** Report `started` once: with the first output, or after STARTED_DELAY_MS, or at the end. */
  private reportStarted(): void {
    if (this.startedReported) return;
    this.startedReported = true;
    this.channel.started();
    this.spool.markStarted();
  }

  private emit(stream: number, data: Buffer): void {
    this.reportStarted();
    if (this.spool.bytes > MAX_SPOOL_BYTES) return;
    const seq = ++this.seq;
    let chunk = { seq, stream, data };
    if (this.spool.bytes + data.length > MAX_SPOOL_BYTES) {
      chunk = {
        seq,
        stream: STREAM.system,
        data: Buffer.from(`\n[dockyard] log limit of ${MAX_SPOOL_BYTES} bytes reached; further output dropped\n`),
      };
    }
    this.spool.append(chunk);
    this.channel.send(chunk);
  }

  private finalFor(exit: StageExit | null, err: unknown): FinalStatus {
    const final: FinalStatus = { ...this.finalStatus(exit, err), ...(exit?.outputs && { outputs: exit.outputs }) };
    if (!this.masker.active) return final;
    // Outputs travel to other stages and every view of the run: no secret in them either.
    const outputs = final.outputs && {
      ...final.outputs,
      values: Object.fromEntries(Object.entries(final.outputs.values).map(([k, v]) => [k, this.masker.maskText(v)])),
    };
    return { ...final, message: this.masker.maskText(final.message), ...(outputs && { outputs }) };
  }

  private finalStatus(exit: StageExit | null, err: unknown): FinalStatus {
    const base = { lastLogSeq: this.seq, oomKilled: exit?.oomKilled ?? false, exitCode: exit?.exitCode ?? -1 };
    if (this.stopReason && this.stopReason !== "rejected") {
      return { ...base, outcome: this.stopReason, message: this.stopMessage };
    }
    if (err) {
      const message = isAgentError(err) ? err.message : `executor failed: ${(err as Error).message}`;
      return { ...base, outcome: "errored", message };
    }
    if (exit!.failure) return { ...base, outcome: "failed", message: exit!.failure };
    if (exit!.exitCode === 0) return { ...base, outcome: "succeeded", message: "" };
    if (exit!.oomKilled) return { ...base, outcome: "failed", message: "killed: out of memory" };
    return { ...base, outcome: "failed", message: `exit code ${exit!.exitCode}` };
  }

  private async finish(final: FinalStatus, log: Logger): Promise<FinishResult> {
    // The process is gone: nothing left to fence while the end waits for the server.
    this.fenced?.untrack();
    if (this.stopReason === "rejected") {
      this.holdsSlot = false;
      this.spool.remove();
      return "rejected";
    }
    this.spool.writeFinal(final);
    log.debug({ outcome: final.outcome }, "reporting end");
    const result = await this.channel.finish(final);
    this.holdsSlot = false;
    log.info({ outcome: final.outcome, exitCode: final.exitCode, result }, "attempt finished");
    if (result !== "closed") this.spool.remove();
    else this.spool.close();
    return result;
  }

  private toSpec(): AttemptSpec {
    const a = this.assignment;
    const secrets = a.spec?.secrets ?? [];
    // The kind says what process it runs (if any): the runner knows no kind.
    const process = this.deps.stage.process?.(a) ?? { image: null, commands: [] };
    const limits = process.limits;
    const secretEnv = Object.fromEntries(
      secrets.filter((s) => !s.asFile).map((s) => [s.env, Buffer.from(s.value).toString("utf8")]),
    );
    return {
      secretFiles: secrets.filter((s) => s.asFile).map((s) => ({ env: s.env, value: Buffer.from(s.value) })),
      attemptId: a.attemptId,
      runId: a.runId,
      stageId: a.stageId,
      stageName: a.stageName,
      attemptNumber: a.attemptNumber,
      image: process.image,
      commands: process.commands,
      agentId: this.deps.agentId,
      // Like CI_JOB_ID & co: stages can tell which run, stage and attempt they are.
      env: {
        ...a.spec?.env,
        ...secretEnv,
        DOCKYARD: "true",
        DOCKYARD_RUN_ID: a.runId,
        DOCKYARD_STAGE: a.stageName,
        DOCKYARD_ATTEMPT: String(a.attemptNumber),
        DOCKYARD_ATTEMPT_ID: a.attemptId,
      },
      limits: {
        memoryBytes: Number(limits?.memoryBytes ?? 0) || undefined,
        nanoCpus: Number(limits?.nanoCpus ?? 0) || undefined,
        pids: Number(limits?.pids ?? 0) || undefined,
      },
    };
  }
}
