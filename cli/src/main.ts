// Entry point of the `dockyard` executable: wires the process into runCli.
import { createCliContext } from "./cli-context";
import { runCli } from "./program";
import { quietIpServerNameWarning } from "@dockyard/proto";

quietIpServerNameWarning();

// `dockyard logs X | head` closes stdout early; that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

const cli = createCliContext({
  out: process.stdout,
  err: process.stderr,
  env: process.env,
  onSigint: (handler) => process.on("SIGINT", handler),
  exit: (code) => process.exit(code),
});
process.exitCode = await runCli(process.argv.slice(2), cli);
