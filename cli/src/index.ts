// @dockyard/cli as a library: the program and the pieces other tools reuse.
export { buildProgram, runCli, exitCodeFor } from "./program";
export { createCliContext } from "./cli-context";
export type { CliContext, CliContextOptions, Output } from "./cli-context";
export { RunRenderer } from "./watch/renderer";
export type { RendererOptions, RenderMode } from "./watch/renderer";
export { LineSplitter } from "./watch/line-splitter";
export { Reconnector } from "./watch/reconnect";
export { followRun } from "./watch/follow";
export * from "./json";
export type { UserJson, AuditJson } from "./commands/users";
