// After a restart: report what the spool holds that the server has not
// acknowledged. An attempt cut short by the restart is reported as lost
// (its container was reaped), so stages that allow it are retried.
import type { Logger } from "pino";
import type { SpoolJournal } from "./logs/spool";
import { AttemptChannel } from "./transport/attempt-channel";
import type { AttemptMux } from "./transport/attempt-mux";

export async function replaySpools(journal: SpoolJournal, mux: AttemptMux, log: Logger): Promise<void> {
  for (const spool of journal.recovered()) {
    const { meta } = spool;
    const channel = new AttemptChannel(mux, meta.attemptId, meta.leaseId, {
      onRejected: () => undefined, onRoom: () => undefined, onRenewed: () => undefined,
    }, log);
    for (const c of spool.chunks) channel.send(c);
    const opening = channel.open();
    const timeout = new Promise<void>((r) => setTimeout(r, 10_000).unref());
    await Promise.race([opening, timeout]);
    if (channel.isClosed) {
      log.info({ attemptId: meta.attemptId }, "spooled attempt no longer ours; dropped");
      journal.done(meta.attemptId);
      continue;
    }
    const lastLogSeq = spool.chunks.length > 0 ? spool.chunks[spool.chunks.length - 1]!.seq : 0;
    const final = spool.final ?? { exitCode: -1, outcome: "lost", message: "agent restarted during the attempt", lastLogSeq, oomKilled: false };
    const result = await Promise.race([channel.finish(final), timeout.then(() => "closed" as const)]);
    log.info({ attemptId: meta.attemptId, outcome: final.outcome, result }, "spooled attempt replayed");
    if (result !== "closed") journal.done(meta.attemptId);
    channel.close();
  }
}
