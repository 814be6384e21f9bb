// A stored stage -> the StageSpec an agent receives: the common part, the kind's
// variant (from its module), outputs of earlier stages substituted into every
// `${{ stages.X.outputs.Y }}`, secret values and the registry password.
import { create, StageSpecSchema, SecretValueSchema, type StageSpec } from "@dockyard/proto";
import { substituteDeep, SubstitutionError, type KindSpec } from "@dockyard/pipeline";
import type { StageOutputsRow, StageSpecRow } from "../store/schema";
import { agentKind, type AssignmentContext } from "./index";
import type { KindVariant } from "./kind";
import { InvalidError } from "../errors";
import type { UiTestInputs } from "./ui-test-inputs";

/** What a complete assignment needs besides the row: only fetched when {@link needsLookup} says so. */
export interface AssignmentInputs {
  outputs: ReadonlyMap<string, StageOutputsRow>;
  secrets: { env: string; value: Buffer; asFile: boolean }[];
  registryPassword: Buffer | null;
  /** A ui-test's journey history and service target. */
  uiTest?: UiTestInputs;
}

/** Whether the spec reads outputs, secrets or a registry password (the sync push path cannot build it). */
export function needsLookup(spec: StageSpecRow): boolean {
  return (
    spec.secrets.length > 0 ||
    spec.refs.length > 0 ||
    spec.registry?.passwordSecret != null ||
    spec.sameAgentAs !== null ||
    // Its history and service target are read from the database at assignment.
    spec.type === "ui-test"
  );
}

const NONE: AssignmentInputs = { outputs: new Map(), secrets: [], registryPassword: null };

/**
 * Build the StageSpec. Throws InvalidError naming the expression when an output a stage
 * reads does not exist (the caller ends the attempt as errored with that message).
 */
export function stageSpecFor(row: StageSpecRow, timeoutMs: number | null, inputs: AssignmentInputs = NONE): StageSpec {
  const resolve = (ref: { kind: string; stage?: string; key?: string }): string | undefined => {
    if (ref.kind !== "output") return undefined;
    const outputs = inputs.outputs.get(ref.stage!);
    const value = outputs?.values[ref.key!];
    if (value !== undefined) return value;
    const known = Object.keys(outputs?.values ?? {});
    throw new InvalidError(
      `stage '${ref.stage}' has no output '${ref.key}'${known.length ? ` (it has: ${known.join(", ")})` : " (it reported none)"}`,
    );
  };
  let kind: KindSpec;
  let env: Record<string, string>;
  try {
    kind = row.refs.length ? substituteDeep(row.kind, resolve) : row.kind;
    env = row.refs.length ? substituteDeep(row.env, resolve) : row.env;
  } catch (err) {
    if (err instanceof SubstitutionError) throw new InvalidError(err.message);
    throw err;
  }
  const ctx: AssignmentContext = { outputs: inputs.outputs, run: row.run, uiTest: inputs.uiTest };
  const variant = (agentKind(kind.type).assignment as (s: KindSpec, c: AssignmentContext) => KindVariant)(kind, ctx);
  return create(StageSpecSchema, {
    env,
    timeoutMs: BigInt(timeoutMs ?? 0),
    secrets: inputs.secrets.map((v) => create(SecretValueSchema, { env: v.env, value: v.value, asFile: v.asFile })),
    registry: row.registry
      ? {
          address: row.registry.address,
          username: row.registry.username ?? "",
          password: inputs.registryPassword ?? new Uint8Array(),
        }
      : undefined,
    source:
      row.source.kind === "git"
        ? { kind: { case: "git", value: { url: row.source.url, ref: row.source.ref ?? "" } } }
        : { kind: { case: "upload", value: true } },
    kind: variant,
  });
}
