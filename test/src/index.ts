export * from "./helpers/farm";
export * from "./helpers/wait";
export * from "./helpers/database";
export * from "./helpers/runs";
export * from "./helpers/docker";
