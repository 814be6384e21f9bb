export { createApp, type AppOptions } from "./app";
export type * from "./types";
export * from "./states";
export * from "./limits";
export type * from "./service-types";
export type * from "./schedule-types";
