// What commands need from the process: output streams, env, colours, Ctrl-C.
import type { Command } from "commander";
import { colorEnabled, loadClientConfig } from "./config";
import type { ClientConfig, Env, GlobalOptions } from "./config";
import { plainColors, ttyColors } from "./watch/status-format";
import type { Colors } from "./watch/status-format";

/** A sink for text or bytes (process.stdout, or a buffer in tests). */
export interface Output {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
}

/** A source of bytes (process.stdin, or a stream in tests); `setRawMode` only on a terminal. */
export interface Input extends AsyncIterable<Buffer | string> {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  off(event: "data", listener: (chunk: Buffer) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

/**
 * Per-invocation state shared by all commands. Commands write through `out`
 * and `err`, set `exitCode` for non-error outcomes (a failed run), and throw
 * CliError for failures.
 */
export interface CliContext {
  out: Output;
  err: Output;
  /** Where `secret set` reads a value from; process.stdin when unset. */
  stdin?: Input;
  env: Env;
  /** Colours for `out`. */
  colors: Colors;
  exitCode: number;
  /** Connection settings from the global flags of `cmd` and the env. */
  clientConfig(cmd: Command): ClientConfig;
  /**
   * A signal aborted by the first Ctrl-C (SIGINT); the second one exits at
   * once with 130. Only commands that stream install the handler.
   */
  interruptSignal(): AbortSignal;
}

/** What createCliContext is built from; main passes the process's own. */
export interface CliContextOptions {
  out: Output;
  err: Output;
  stdin?: Input;
  env: Env;
  onSigint?: (handler: () => void) => void;
  exit?: (code: number) => void;
}

/** A CliContext over the given streams and env. */
export function createCliContext(options: CliContextOptions): CliContext {
  let controller: AbortController | undefined;
  return {
    out: options.out,
    err: options.err,
    stdin: options.stdin,
    env: options.env,
    colors: colorEnabled(options.out, options.env) ? ttyColors : plainColors,
    exitCode: 0,
    clientConfig: (cmd) => loadClientConfig(cmd.optsWithGlobals<GlobalOptions>(), options.env),
    interruptSignal() {
      if (!controller) {
        const c = new AbortController();
        controller = c;
        options.onSigint?.(() => {
          if (c.signal.aborted) options.exit?.(130);
          c.abort();
        });
      }
      return controller.signal;
    },
  };
}
