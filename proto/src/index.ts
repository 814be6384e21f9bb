// The wire contract: generated messages and services plus grpc-js glue.
export * from "./gen/dockyard/v1/types_pb";
export * from "./gen/dockyard/v1/agent_pb";
export * from "./gen/dockyard/v1/run_pb";
export * from "./gen/dockyard/v1/notify_pb";
export * from "./gen/dockyard/v1/hooks_pb";
export * from "./gen/dockyard/v1/repos_pb";
export * from "./gen/dockyard/v1/alerts_pb";
export * from "./gen/dockyard/v1/artifact_pb";
export * from "./gen/dockyard/v1/schedules_pb";
export * from "./grpc";
export * from "./tls";
export * from "./failover";
export * from "./backoff";
export * from "./fence";
export * from "./held-resources";
export { create, toBinary, fromBinary } from "@bufbuild/protobuf";

/** Bumped on any incompatible change to the agent protocol. */
export const PROTOCOL_VERSION = 4;
/**
 * The oldest agent protocol a server accepts: one behind, so a farm's agents can be upgraded
 * host by host after its server. Nothing in the server depends on the difference between 3 and
 * 4 today; a change that bumps PROTOCOL_VERSION serves PROTOCOL_VERSION - 1 agents the old way
 * (the server knows an agent's protocol from its registration).
 */
export const MIN_AGENT_PROTOCOL_VERSION = PROTOCOL_VERSION - 1;
export * from "./release";
export * from "./identity";
export * from "./artifact-limits";
