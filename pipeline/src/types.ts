/** Why a stage attempt may be retried: the agent was lost, the farm errored, the user's command failed, or it timed out. */
export type RetryReason = 'lost' | 'errored' | 'failed' | 'timeout';

/** All retry reasons, in documentation order. */
export const RETRY_REASONS = ['lost', 'errored', 'failed', 'timeout'] as const satisfies readonly RetryReason[];

/** One validated, defaulted stage of a pipeline. */
export interface StageDef {
  name: string;
  /** Container image; `null` only for `executor: 'shell'`. */
  image: string | null;
  /** At least one command; `command: x` is normalised to `[x]`. */
  commands: string[];
  /** Names of stages that must succeed first (deduplicated, file order). */
  needs: string[];
  /** Plain values: pipeline env with the stage env merged over it (a stage entry of either kind overrides). */
  env: Record<string, string>;
  /** Env variables whose values come from the secret store, by name (merged like `env`; disjoint from it). */
  secrets: SecretRef[];
  /** `null` means no timeout. */
  timeoutMs: number | null;
  /** `count` extra attempts, only for the listed reasons; `count: 0` means `on: []`. */
  retry: { count: number; on: RetryReason[] };
  /** Label selector: an agent must carry every pair exactly. */
  agent: Record<string, string>;
  executor: 'docker' | 'shell';
  /** Container limits (docker executor); `null` = the agent's default. */
  resources: StageResources;
}

/** An env variable whose value is the secret `secret` (`asFile`: written to a file, the variable holds its path). */
export interface SecretRef {
  env: string;
  secret: string;
  asFile: boolean;
}

/** Container limits of a stage. */
export interface StageResources {
  memoryBytes: number | null;
  /** CPU share in billionths of a CPU (Docker's NanoCpus): `cpus: 1.5` is 1.5e9. */
  nanoCpus: number | null;
  pids: number | null;
}

/** A validated pipeline file. Stages keep file order. */
export interface PipelineSpec {
  version: 1;
  name: string;
  /** Pipeline-wide plain env (already merged into every stage's env). */
  env: Record<string, string>;
  /** Pipeline-wide secret references (already merged into every stage's secrets). */
  secrets: SecretRef[];
  stages: StageDef[];
}

/** One thing wrong with a pipeline file. */
export interface Problem {
  /** Dotted path of the offending value, e.g. `stages.build.timeout`; `''` for the whole file. */
  path: string;
  /** 1-based line. */
  line: number;
  /** 1-based column (UTF-16 code units). */
  column: number;
  message: string;
}

/** Result of {@link parsePipeline}: never throws, either a pipeline or every problem found. */
export type ParseResult = { ok: true; pipeline: PipelineSpec } | { ok: false; problems: Problem[] };
