// A StageHandle for work done in this process (a build, an environment, a test
// container driven through dockerode): its lines and bytes become the stage's
// output, in order; `wait` resolves with the work's exit and outputs.
import type { OutputChunk } from "../executor/types";
import type { StageExit, StageHandle } from "./kind";

/** How work writes to its stage's log. */
export interface StageLog {
  /** One line of the farm's own account (build steps, environment states). */
  line(text: string): void;
  /** Raw bytes of a process the work runs (a test container's output). */
  write(stream: "stdout" | "stderr", data: Buffer): void;
}

export function taskHandle(work: (log: StageLog) => Promise<StageExit>): StageHandle {
  const queue: OutputChunk[] = [];
  let done = false;
  let wake: (() => void) | null = null;
  const push = (chunk: OutputChunk) => {
    queue.push(chunk);
    wake?.();
  };
  const log: StageLog = {
    line: (text) => push({ stream: "stdout", data: Buffer.from(`${text}\n`) }),
    write: (stream, data) => push({ stream, data }),
  };
  const result = work(log).finally(() => {
    done = true;
    wake?.();
  });
  result.catch(() => undefined); // surfaced by wait()
  async function* output(): AsyncIterable<OutputChunk> {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (done) return;
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
  }
  return { output: output(), wait: () => result };
}

/** The exit of work that failed with a message the user should see (the stage fails, exit 1). */
export function failedExit(log: StageLog, message: string): StageExit {
  log.line(`dockyard: ${message}`);
  return { exitCode: 1, oomKilled: false };
}
