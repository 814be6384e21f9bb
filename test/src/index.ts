export * from "./helpers/farm";
export * from "./helpers/wait";
export * from "./helpers/database";
export * from "./helpers/runs";
export * from "./helpers/docker";
export * from "./helpers/outage-farm";
export * from "./helpers/outage-scenario";
export * from "./helpers/hand-agent";
