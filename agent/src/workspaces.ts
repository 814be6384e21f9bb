// The run workspaces on this host: shell directories, run sources, Docker volumes and the
// secret files of its attempts (on tmpfs). They
// are found on disk and on the engine, not remembered, so a restarted agent (after kill -9)
// or another agent on an engine a dead one shared finds them too. The heartbeat reports
// them and the server answers which of their runs ended; the NATS run-ended notice is only
// the fast path, so a lost notice no longer leaks a workspace.
import type { Logger } from "pino";
import type { Executor } from "./executor/types";
import type { RunSources } from "./stages/run-sources";
import { removeRunSecrets, secretRunIds } from "./secrets/secret-files";

/** At most this many run ids per heartbeat field (the server refuses more). */
export const MAX_REPORTED_WORKSPACES = 500;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a heartbeat says about workspaces. */
export interface WorkspaceReport {
  /** This agent's: its directories and sources, volumes labelled with its id (or with none). */
  own: string[];
  /** Volumes another agent left on our engine (a shared engine): reaped here too once their run ended. */
  foreign: string[];
}

/**
 * The workspaces of this agent's host. `runEnded` may come from NATS and from a heartbeat
 * answer, many times for one run: removal waits for our last runner of the run (`inUse`),
 * runs once at a time per run, and is idempotent.
 */
export class Workspaces {
  private last: WorkspaceReport = { own: [], foreign: [] };
  private scanning: Promise<void> | null = null;
  /** Ended runs whose workspace waits for our last runner of them. */
  private readonly waiting = new Set<string>();
  private readonly removing = new Set<string>();

  constructor(
    private readonly executors: Executor[],
    private readonly sources: RunSources,
    private readonly agentId: () => string,
    private readonly inUse: (runId: string) => boolean,
    private readonly log: Logger,
  ) {}

  /** What the last scan found: the heartbeat sends it, so a slow engine never delays a heartbeat. */
  get report(): WorkspaceReport {
    return this.last;
  }

  /** Look on disk and on the engine again; one scan at a time. A failed scan keeps the last report. */
  refresh(): Promise<void> {
    this.scanning ??= this.scan()
      .then(
        (r) => {
          this.last = r;
        },
        (err: unknown) => this.log.warn({ err }, "workspace scan failed"),
      )
      .finally(() => {
        this.scanning = null;
      });
    return this.scanning;
  }

  /**
   * The run ended (a NATS notice or the server's heartbeat answer): remove its workspace, now or after our last runner
   * of it.
   */
  runEnded(runId: string): void {
    if (this.inUse(runId)) {
      this.waiting.add(runId);
      return;
    }
    this.waiting.delete(runId);
    if (this.removing.has(runId)) return;
    this.removing.add(runId);
    void this.remove(runId).finally(() => this.removing.delete(runId));
  }

  /** One of our runners of the run finished: the workspace goes if the run ended meanwhile. */
  runnerDone(runId: string): void {
    if (this.waiting.has(runId)) this.runEnded(runId);
  }

  private async remove(runId: string): Promise<void> {
    const results = await Promise.allSettled([
      ...this.executors.map((e) => e.removeWorkspace(runId)),
      this.sources.remove(runId),
      Promise.resolve().then(() => removeRunSecrets(runId)),
    ]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    // The next heartbeat reports it again and the server answers again: that is the retry.
    for (const f of failed) this.log.warn({ err: f.reason as unknown, runId }, "workspace removal failed");
    if (failed.length > 0) return;
    if (this.last.own.includes(runId) || this.last.foreign.includes(runId))
      this.log.info({ runId }, "workspace removed: its run ended");
    this.last = {
      own: this.last.own.filter((id) => id !== runId),
      foreign: this.last.foreign.filter((id) => id !== runId),
    };
  }

  private async scan(): Promise<WorkspaceReport> {
    const me = this.agentId();
    const own = new Set((await this.sources.runIds()).filter((id) => RUN_ID.test(id)));
    const foreign = new Set<string>();
    for (const e of this.executors) {
      for (const w of await e.listWorkspaces()) {
        if (!RUN_ID.test(w.runId)) continue; // not one of a farm's runs (a benchmark's or a test's volume)
        (w.agentId === null || w.agentId === me ? own : foreign).add(w.runId);
      }
    }
    // Secret files on this host's tmpfs: any agent's (a killed one's too), so reaped like a foreign volume.
    for (const id of secretRunIds()) if (RUN_ID.test(id)) foreign.add(id);
    for (const id of own) foreign.delete(id);
    // Beyond the bound, the rest is reported once the first ones are gone.
    return { own: [...own].slice(0, MAX_REPORTED_WORKSPACES), foreign: [...foreign].slice(0, MAX_REPORTED_WORKSPACES) };
  }
}
