// `npm test`'s reporter: node's TAP, plus a recap of every failed test (its file, name and the
// first lines of its error) just above the closing `# tests` / `# pass` / `# fail` lines. A run
// of 200 files prints thousands of lines, and a reader (or a CI page that keeps only the tail)
// should not have to search them for why a test failed.
// Plain JavaScript: node 20 loads a reporter with its own loader, without tsx's hooks.
import path from "node:path";
import { tap } from "node:test/reporters";

/** Lines and characters of each failure's message kept in the recap. */
const MESSAGE_LINES = 6;
const MESSAGE_CHARS = 600;

/** The cause a test failure wraps (the assertion or the thrown error), as a few lines of text. */
export function failureMessage(error) {
  let e = error;
  if (e?.failureType !== undefined && e.cause !== undefined) e = e.cause;
  const text = e instanceof Error ? e.message : String(e?.message ?? e);
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  return lines.slice(0, MESSAGE_LINES).join("\n").slice(0, MESSAGE_CHARS);
}

/** A failed test or hook; null for a suite's "N subtests failed", which its tests' own lines say better. */
function failureOf(event) {
  const error = event.data.details?.error;
  if (error?.failureType === "subtestsFailed") return null;
  const file = event.data.file;
  return {
    where: file ? path.relative(process.cwd(), file) : "?",
    name: event.data.name ?? "?",
    message: failureMessage(error),
  };
}

/** The recap, as diagnostics (TAP prints each as `# line`). */
function recap(failures) {
  const lines = [`${failures.length} failed:`];
  for (const f of failures) {
    lines.push(`FAILED ${f.where}: ${f.name}`);
    for (const l of f.message.split("\n")) lines.push(`    ${l}`);
  }
  return lines.map((message) => ({ type: "test:diagnostic", data: { nesting: 0, message } }));
}

async function* withRecap(source) {
  const failures = [];
  let recapped = false;
  for await (const event of source) {
    if (event.type === "test:fail") {
      const f = failureOf(event);
      if (f) failures.push(f);
    }
    const closing =
      event.type === "test:diagnostic" && event.data.nesting === 0 && /^tests \d+$/.test(event.data.message ?? "");
    if (closing && !recapped && failures.length > 0) {
      recapped = true;
      yield* recap(failures);
    }
    yield event;
  }
}

export default async function* tapWithRecap(source) {
  yield* tap(withRecap(source));
}
