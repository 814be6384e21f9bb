// Fetches what an assignment reads (see needsLookup): earlier outputs, secret values, the registry password,
// and a ui-test's journey history and service target.
import type { Db } from "../store/db";
import type { StageSpecRow } from "../store/schema";
import { runOutputs } from "../store/stage-outputs";
import type { SecretStore } from "../secrets/secret-store";
import type { AssignmentInputs } from "./assignment";
import { uiTestInputs } from "./ui-test-inputs";

export function assignmentInputsLoader(db: Db, secrets: SecretStore) {
  return async (runId: string, spec: StageSpecRow, agentId: string | null = null): Promise<AssignmentInputs> => {
    const outputs = spec.refs.length > 0 || spec.sameAgentAs !== null ? await runOutputs(db, runId) : new Map();
    const values = spec.secrets.length > 0 ? await secrets.values(spec.secrets) : [];
    const password = spec.registry?.passwordSecret
      ? (await secrets.values([{ env: "", secret: spec.registry.passwordSecret, asFile: false }]))[0]!.value
      : null;
    const uiTest = spec.kind.type === "ui-test" ? await uiTestInputs(db, spec.kind, agentId) : undefined;
    return { outputs, secrets: values, registryPassword: password, ...(uiTest && { uiTest }) };
  };
}
