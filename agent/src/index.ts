// Public entry of the agent (used by the CLI, tests and benchmarks).
export { agentMain, chooseExecutors } from "./main";
export { Agent, type AgentDeps } from "./agent";
export { loadAgentConfig, AgentConfigError, AGENT_ENV_VARS, type AgentConfig } from "./config";
export { DockerExecutor, removeRunWorkspace } from "./executor/docker";
export { ShellExecutor } from "./executor/shell";
export { readSpools, SpoolJournal } from "./logs/spool";
export { dockerFromEnv, BASE_IMAGE, DEFAULT_DOCKER_HOST } from "./executor/docker-client";
export type { Executor } from "./executor/types";
export { RegistrationRefusedError, AGENT_VERSION, register } from "./transport/register";
export { NoticeListener } from "./transport/notice-listener";
export { loadAgentKey, CredentialSource } from "./identity/agent-key";
export { createAgentClient, type AgentClient } from "./transport/agent-client";
