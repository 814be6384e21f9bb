// The web package's public shapes, by topic: runs (run-types), the farm and its users
// (farm-types), channels (channel-types), the HTTP edge (http-types) and the services the app
// calls (web-services). The JSON views are zod schemas with inferred types, so the routes,
// the OpenAPI document and the CLI's `--json` share one definition.
export * from "./run-types";
export * from "./farm-types";
export * from "./channel-types";
export * from "./http-types";
export type * from "./web-services";
