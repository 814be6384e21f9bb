// After a restart: report what the spool holds that the server has not
// acknowledged. An attempt cut short by the restart is reported as lost
// (its container was reaped), so stages that allow it are retried. Each replay
// runs in the background until the server acknowledged or refused it: a server
// that is down when the agent starts is reached whenever it is back, with the
// backlog paced by the send window (see AttemptChannel), never dropped.
import type { Logger } from "pino";
import type { SpoolContents, SpoolJournal } from "./logs/spool";
import { AttemptChannel } from "./transport/attempt-channel";
import type { AttemptMux } from "./transport/attempt-mux";

/** Start replaying every recovered attempt; resolves when all are settled (callers need not wait). */
export function replaySpools(journal: SpoolJournal, mux: AttemptMux, log: Logger): Promise<void> {
  return Promise.all(journal.recovered().map((spool) => replayOne(journal, mux, spool, log))).then(() => undefined);
}

async function replayOne(journal: SpoolJournal, mux: AttemptMux, spool: SpoolContents, log: Logger): Promise<void> {
  const { meta } = spool;
  const channel = new AttemptChannel(
    mux,
    meta.attemptId,
    meta.leaseId,
    {
      onRejected: () => undefined,
      onRoom: () => undefined,
      onRenewed: () => undefined,
    },
    log,
  );
  channel.resuming = true;
  for (const c of spool.chunks) channel.send(c);
  await channel.open();
  if (channel.isClosed) {
    log.info({ attemptId: meta.attemptId }, "spooled attempt no longer ours; dropped");
    journal.done(meta.attemptId);
    return;
  }
  const lastLogSeq = spool.chunks.length > 0 ? spool.chunks[spool.chunks.length - 1]!.seq : 0;
  const final = spool.final ?? {
    exitCode: -1,
    outcome: "lost",
    message: "agent restarted during the attempt",
    lastLogSeq,
    oomKilled: false,
  };
  const result = await channel.finish(final);
  log.info({ attemptId: meta.attemptId, outcome: final.outcome, result }, "spooled attempt replayed");
  if (result !== "closed") journal.done(meta.attemptId);
  channel.close();
}
