// Drizzle tables: the source of truth for runs, stages, attempts, agents and
// their events, one file per aspect under schema/. drizzle-kit reads this file
// (drizzle.config.ts) and generates `migrations/` from what it exports.
export * from "./schema/identity";
export * from "./schema/runs";
export * from "./schema/notify";
export * from "./schema/farm";
export * from "./schema/server-stages";
export * from "./schema/services";
export * from "./schema/alerts";
export * from "./schema/farm-counters";
export * from "./schema/artifacts";
export * from "./schema/schedules";
export * from "./schema/git-repos";
