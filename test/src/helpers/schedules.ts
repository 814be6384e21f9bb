// Schedules in tests: their ticks (newest last) and the pipelines they run on a shell agent.
import type { Farm } from "./farm";
import { waitFor } from "./wait";

export interface TickSeen {
  at: number;
  kind: string;
  runId: string;
  runRef: string;
  skipped: string;
  note: string;
}

/** The schedule's ticks, oldest first. */
export async function ticksOf(farm: Pick<Farm, "client">, name: string): Promise<TickSeen[]> {
  const { ticks } = await farm.client.listScheduleTicks({ name, limit: 500 });
  return ticks
    .map((t) => ({
      at: Number(t.atMs),
      kind: t.kind,
      runId: t.runId,
      runRef: t.runRef,
      skipped: t.skipped,
      note: t.note,
    }))
    .reverse();
}

/** Wait until the schedule has a tick `match` accepts (after the first `from` ticks); answers it. */
export async function waitForTick(
  farm: Pick<Farm, "client">,
  name: string,
  match: (t: TickSeen) => boolean,
  opts: { from?: number; timeoutMs?: number; message: string },
): Promise<TickSeen> {
  return waitFor(async () => (await ticksOf(farm, name)).slice(opts.from ?? 0).find(match), {
    timeoutMs: opts.timeoutMs ?? 25_000,
    intervalMs: 200,
    message: opts.message,
  });
}

/** A one-stage shell pipeline running `command`. */
export const shellPipeline = (name: string, command: string) =>
  `name: ${name}\nstages:\n  main:\n    executor: shell\n    command: ${JSON.stringify(command)}\n`;
