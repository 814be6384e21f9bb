// Public entry of the agent (used by the CLI, tests and benchmarks).
export { agentMain, agentCheck, chooseExecutors } from "./main";
export { Agent, type AgentDeps } from "./agent";
export { loadAgentConfig, AgentConfigError, AGENT_ENV_VARS, type AgentConfig } from "./config";
export { DockerExecutor, removeRunWorkspace } from "./executor/docker";
export { ShellExecutor } from "./executor/shell";
export { OutputDirs } from "./stages/output-dir";
export { readSpools, SpoolJournal } from "./logs/spool";
export { dockerFromEnv, BASE_IMAGE, DEFAULT_DOCKER_HOST } from "./executor/docker-client";
export {
  pushImage,
  ensureImage,
  tagImage,
  parseRef,
  registryOf,
  RegistryError,
  isRegistryError,
  type RegistryAuth,
  type PushResult,
  type RegistryErrorCode,
} from "./docker/registry";
export {
  packContext,
  contextSize,
  ContextError,
  DEFAULT_CONTEXT_MAX_BYTES,
  type PackContextOptions,
} from "./docker/context-tar";
export {
  checkoutGit,
  GitContextError,
  DEFAULT_GIT_TIMEOUT_MS,
  type CheckoutGitOptions,
  type GitErrorCode,
} from "./docker/git-context";
export { buildImage, type BuildImageOptions, type BuildImageResult } from "./docker/image-build";
export { BuildError, isBuildError, type BuildErrorCode } from "./docker/build-error";
export type { Executor } from "./executor/types";
export { RegistrationRefusedError, register } from "./transport/register";
export { NoticeListener } from "./transport/notice-listener";
export { loadAgentKey, CredentialSource } from "./identity/agent-key";
export { createAgentClient, type AgentClient } from "./transport/agent-client";
export {
  upEnvironment,
  downEnvironment,
  listEnvironments,
  reapExpired,
  EnvironmentError,
  isEnvironmentError,
  ENV_LABEL,
  type Environment,
  type EnvironmentService,
  type EnvironmentSummary,
  type EnvironmentLabels,
  type EnvironmentErrorCode,
  type UpEnvironmentOptions,
} from "./docker/environment";
export {
  runTestContainer,
  type TestContainerOptions,
  type TestContainerResult,
  type JUnitCounts,
} from "./docker/test-container";
export { secretDir } from "./secrets/secret-files";
// The synthetic journey metrics as a ui-test stage pushes them (the dashboards' live test pushes with it).
export { pushJourneyMetrics, type JourneyRunMetrics } from "./ui-test/journey-metrics";
export { runAgentChecks, formatChecks, type CheckResult } from "./check";
export { hostFacts, HOST_FACT_KEYS } from "./host-facts";
