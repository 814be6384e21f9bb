// ESLint (flat config): a few type-aware house rules, not a style guide (prettier does layout).
// Run by `npm run lint` (scripts/lint.sh) and by `npm test` after the type-check.
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    // Generated code and third-party files are not ours to lint.
    ignores: [
      "**/node_modules/**",
      "proto/src/gen/**",
      "migrations/**",
      "agent/native/**",
      "**/*.js",
      "**/*.cjs",
      "**/*.mjs",
    ],
  },
  {
    files: ["**/*.ts", "**/*.tsx"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        // One program for the whole repo: the root tsconfig.json already includes every package,
        // so the project service builds it once instead of one program per package.
        // The ops/grafana script is outside the root tsconfig's include: it gets its options in a small inferred project.
        // (scripts/docker and ops/images are included: the compose test imports them.)
        projectService: {
          allowDefaultProject: ["ops/grafana/*.ts"],
          defaultProject: "tsconfig.json",
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // A promise is awaited, returned, or marked `void promise` (not awaited on purpose).
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          ignoreVoid: true,
          // node:test's describe/it/test return promises that the runner itself tracks.
          allowForKnownSafeCalls: [
            {
              from: "package",
              package: "node:test",
              name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"],
            },
          ],
        },
      ],
      // No async callbacks where the caller ignores the promise (event handlers, forEach, setTimeout).
      "@typescript-eslint/no-misused-promises": "error",
      // Mixed arrays (`Promise.all(xs.map((x) => x.close?.()))`) are fine; an array with no promise at all is the bug.
      "@typescript-eslint/await-thenable": ["error", { allowMixedPromiseArrays: true }],
      // (only-throw-error and prefer-promise-reject-errors were tried and left out: their only hits
      // were rethrows of caught values and @types/node's ExecFileException, an Omit<> of Error.)
      // An error is wrapped with { cause } or handled, never swallowed: no empty catch.
      "no-empty": ["error", { allowEmptyCatch: false }],
    },
  },
);
