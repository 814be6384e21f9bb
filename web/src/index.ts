export { createApp, type AppOptions } from "./app";
export type * from "./types";
export * from "./states";
export * from "./limits";
export type * from "./service-types";
export type * from "./alert-types";
export { ALERT_STATES, MAX_ALERTS_LIMIT, DEFAULT_ALERTS_LIMIT } from "./alert-types";
export type * from "./artifact-types";
export type * from "./schedule-types";
