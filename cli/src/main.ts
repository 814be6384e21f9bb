// Entry point of the `dockyard` executable: wires the process into runCli.
import { releaseVersionText } from "@dockyard/proto/release";

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  // Answered before the program loads: the commands bring in gRPC and the protobuf code, most
  // of a call's start time, and scripts call --version in loops. Same text as the program's.
  process.stdout.write(`dockyard ${releaseVersionText()}\n`);
} else {
  const [{ createCliContext }, { runCli }, { quietIpServerNameWarning }] = await Promise.all([
    import("./cli-context"),
    import("./program"),
    import("@dockyard/proto"),
  ]);
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
  process.exitCode = await runCli(argv, cli);
}
