// Prettier: quotes as the code was first written; 120 columns, so that a file kept short by
// going wide does not pass for short. `npm run format` writes, `npm run format:check` checks.
/** @type {import("prettier").Config} */
export default {
  printWidth: 120,
  semi: true,
  singleQuote: false,
  trailingComma: "all",
  arrowParens: "always",
  overrides: [
    // pipeline/ (and agent/src/executor, agent/src/docker, scripts/, ops/) are written with single quotes.
    { files: ["pipeline/**"], options: { singleQuote: true, printWidth: 120 } },
    {
      files: ["agent/src/executor/**", "agent/src/docker/**", "scripts/**", "ops/**/*.ts"],
      options: { singleQuote: true },
    },
  ],
};
