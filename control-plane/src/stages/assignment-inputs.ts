// Fetches what an assignment reads (see needsLookup): earlier outputs, secret values, the registry password.
import type { Db } from "../store/db";
import type { StageSpecRow } from "../store/schema";
import { runOutputs } from "../store/stage-outputs";
import type { SecretStore } from "../secrets/secret-store";
import type { AssignmentInputs } from "./assignment";

export function assignmentInputsLoader(db: Db, secrets: SecretStore) {
  return async (runId: string, spec: StageSpecRow): Promise<AssignmentInputs> => {
    const outputs = spec.refs.length > 0 || spec.sameAgentAs !== null ? await runOutputs(db, runId) : new Map();
    const values = spec.secrets.length > 0 ? await secrets.values(spec.secrets) : [];
    const password = spec.registry?.passwordSecret
      ? (await secrets.values([{ env: "", secret: spec.registry.passwordSecret, asFile: false }]))[0]!.value
      : null;
    return { outputs, secrets: values, registryPassword: password };
  };
}
