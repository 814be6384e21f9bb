// dependency-cruiser: import cycles and the package boundaries (the rules below say which package may import which).
// Run by `npm run lint` (scripts/lint.sh) as
//   depcruise --config .dependency-cruiser.cjs --ignore-known .dependency-cruiser-known-violations.json \
//     proto pipeline control-plane agent web cli test testkit bench scripts ops
// Workspace packages (@dockyard/x) resolve through node_modules symlinks to their real
// sources (x/src/index.ts), so the paths below are repository paths. An import of a package
// that is not a declared dependency does not resolve and keeps its bare name, so the
// boundary rules match bare names too (and not-to-unresolvable catches it as well).
// Violations that were there when these rules came in are listed, one by one, in
// .dependency-cruiser-known-violations.json (--ignore-known): new ones fail. Fix one, then
// regenerate the list with `--output-type baseline -f .dependency-cruiser-known-violations.json`
// (same arguments otherwise), so the list only shrinks.
const PKGS = "(proto|pipeline|control-plane|agent|web|cli|test|testkit|bench)";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "No import cycles, within a package or across packages (type-only imports included).",
      from: {},
      to: { circular: true },
    },
    {
      name: "domain-no-io",
      severity: "error",
      comment: "control-plane/src/domain is pure: no store/, no transport/, no database, gRPC, NATS or HTTP libraries.",
      from: { path: "^control-plane/src/domain/" },
      to: {
        path: [
          "^control-plane/src/(store|transport)/",
          // A package resolves to its code or to its types (@types/pg): either way, under node_modules.
          "(^|/)node_modules/(@types/)?(pg|drizzle-orm|@grpc/grpc-js|nats|@nats-io/[^/]+|hono|@hono/[^/]+)/",
          // ...or, when the package is not a dependency at all, stays a bare (unresolved) name.
          "^(pg|drizzle-orm|@grpc/grpc-js|nats|@nats-io/[^/]+|hono|@hono/[^/]+)(/|$)",
        ],
      },
    },
    {
      name: "nothing-imports-control-plane",
      severity: "error",
      comment: "Only control-plane itself, test/ and bench/ (which start servers) import control-plane.",
      from: { pathNot: "^(control-plane|test|testkit|bench)/" },
      to: { path: ["^control-plane/", "^@dockyard/control-plane(/|$)"] },
    },
    {
      name: "web-no-store",
      severity: "error",
      comment: "web/ declares the services it needs; it never sees control-plane, its rows or the database.",
      from: { path: "^web/" },
      to: {
        path: [
          "^control-plane/",
          "(^|/)node_modules/(@types/)?(drizzle-orm|pg)/",
          "^(@dockyard/control-plane|drizzle-orm|pg)(/|$)",
        ],
      },
    },
    {
      name: "agent-no-server",
      severity: "error",
      comment: "The agent talks to the server over the wire only: no control-plane, no web.",
      from: { path: "^agent/" },
      to: { path: ["^(control-plane|web)/", "^@dockyard/(control-plane|web)(/|$)"] },
    },
    {
      name: "entry-point-only",
      severity: "error",
      comment:
        "Packages import each other through their entry point (@dockyard/x), never x/src/... deep paths; " +
        "@dockyard/proto/release is a second, light entry point (`dockyard --version` without loading gRPC).",
      from: { path: `^${PKGS}/` },
      to: { path: `^${PKGS}/`, pathNot: [`^$1/`, `^${PKGS}/src/index\\.ts$`, "^proto/src/release\\.ts$"] },
    },
    {
      name: "no-deep-package-specifier",
      severity: "error",
      comment:
        "`@dockyard/x/...` deep specifiers (they do not resolve: each package exports only '.', proto also './release').",
      from: {},
      to: { path: "^@dockyard/[^/]+/.", pathNot: "^@dockyard/proto/release$" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "Every import resolves (a typo, a missing dependency, or a deep path the exports map refuses).",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "(^|/)node_modules/" },
    // The browser's files: their imports are URLs the app serves, not modules on disk.
    exclude: { path: "^web/src/ui/assets/" },
    // Type-only imports count too: a cycle through types is still a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    moduleSystems: ["es6", "cjs"],
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
      mainFields: ["module", "main", "types", "typings"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
