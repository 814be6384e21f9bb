import type { RetryReason } from './schema-parts.js';
import type { KindSpec, StageType } from './kinds/index.js';

export type { RetryReason } from './schema-parts.js';
export { RETRY_REASONS } from './schema-parts.js';
export type { StageResources } from './kinds/command.js';

/** One validated, defaulted stage of a pipeline: the keys all stages share, and its kind's part in `spec`. */
export interface StageDef {
  name: string;
  type: StageType;
  /** Names of stages that must succeed first (deduplicated, file order). */
  needs: string[];
  /**
   * The needs (a subset of `needs`) written `{ stage, if_skipped: continue }`: this stage also runs when that one skips
   * itself.
   */
  continueIfSkipped: string[];
  /** Plain values (command and test stages): pipeline env with the stage env merged over it. */
  env: Record<string, string>;
  /** Values from the secret store, by name: env variables (command, test) or build secrets (build). */
  secrets: SecretRef[];
  /** `null` means no timeout. */
  timeoutMs: number | null;
  /** `null`: the stage type's default (the control plane's kinds decide it). `count: 0` means `on: []`. */
  retry: { count: number; on: RetryReason[] } | null;
  /** Label selector: an agent must carry every pair exactly. */
  agent: Record<string, string>;
  spec: KindSpec;
}

/** An env variable whose value is the secret `secret` (`asFile`: written to a file, the variable holds its path). */
export interface SecretRef {
  env: string;
  secret: string;
  asFile: boolean;
}

/** Where build, deploy and test stages get the run's files: a git repository, or the directory the CLI uploaded. */
export type SourceSpec = { kind: 'git'; url: string; ref: string | null } | { kind: 'upload' };

/** The registry build stages push to and stages pull missing images from; the password is a secret's name. */
export interface RegistrySpec {
  address: string;
  username: string | null;
  passwordSecret: string | null;
}

/** A pipeline-level notification rule: run events -> channels, with optional templates. */
export interface NotifyRule {
  on: string[];
  channels: string[];
  subject?: string;
  body?: string;
}

/** A validated pipeline file. Stages keep file order. */
export interface PipelineSpec {
  version: 1;
  name: string;
  /** Pipeline-wide plain env (already merged into every command and test stage's env). */
  env: Record<string, string>;
  /** Pipeline-wide secret references (already merged into every command and test stage's secrets). */
  secrets: SecretRef[];
  source: SourceSpec;
  /** null: the server's registry, if it has one. */
  registry: RegistrySpec | null;
  /** Pipeline-level notifications (empty: none). */
  notify: NotifyRule[];
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
