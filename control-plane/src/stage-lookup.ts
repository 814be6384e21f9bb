// One stage of a run, and one attempt of a stage, found by what a user typed: a name or an
// attempt number that does not exist is a NotFoundError naming what does (the run's stages,
// the stage's attempts), the same for the HTTP logs route and for watching a run.
import type { RunWithStages } from "./store/runs";
import { NotFoundError } from "./errors";

type Stage = RunWithStages["stages"][number];

/** The run's stage called `name`, or a NotFoundError listing its stages (the first 20). */
export function stageNamed(run: RunWithStages, name: string): Stage {
  const stage = run.stages.find((s) => s.name === name);
  if (stage) return stage;
  const names = run.stages.map((s) => s.name);
  const listed =
    names.length > 20 ? `${names.slice(0, 20).join(", ")} and ${names.length - 20} more` : names.join(", ");
  throw new NotFoundError("stage", name, `run ${run.id} has no stage '${name.slice(0, 64)}' (stages: ${listed})`);
}

/** The NotFoundError for attempt `attempt` of a stage that made fewer, naming the ones it made. */
export function noSuchAttempt(run: RunWithStages, stage: Stage, attempt: number): NotFoundError {
  const made =
    stage.attempts === 0
      ? "no attempts yet"
      : `attempts: ${Array.from({ length: stage.attempts }, (_, i) => i + 1).join(", ")}`;
  return new NotFoundError(
    "attempt",
    String(attempt),
    `stage '${stage.name}' of run ${run.id} has no attempt ${attempt} (${made})`,
  );
}
