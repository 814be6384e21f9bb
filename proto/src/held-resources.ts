// The bounds of a heartbeat's resource inventory (HeartbeatRequest.resources), in one place:
// the agent leaves out (and logs) what breaks them, the server refuses a heartbeat that does.

/** The kind a deploy stage's temporary environment is held as. */
export const ENVIRONMENT_RESOURCE = "environment";

export const HELD_RESOURCE_LIMITS = {
  resources: 1000,
  idChars: 200,
  attributes: 64,
  attributeKeyChars: 128,
  attributeValueChars: 1024,
} as const;

const KIND = /^[a-z][a-z0-9-]{0,31}$/;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a held resource carries that these bounds look at (the proto message and the agent's own shape). */
export interface HeldResourceLike {
  kind: string;
  id: string;
  runId: string;
  attributes: Record<string, string>;
}

/** Why this resource cannot be reported, or null when it can. */
export function heldResourceProblem(r: HeldResourceLike): string | null {
  const L = HELD_RESOURCE_LIMITS;
  const shown = JSON.stringify(r.id.slice(0, 80));
  if (!KIND.test(r.kind))
    return `kind ${JSON.stringify(r.kind.slice(0, 40))} is not 1-32 of a-z 0-9 - starting with a letter`;
  if (r.id.length === 0 || r.id.length > L.idChars)
    return `${r.kind} id ${shown} must have 1 to ${L.idChars} characters`;
  if (r.runId !== "" && !RUN_ID.test(r.runId))
    return `${r.kind} ${shown} names run ${JSON.stringify(r.runId.slice(0, 80))}, which is not a run id (a UUID)`;
  const entries = Object.entries(r.attributes);
  if (entries.length > L.attributes)
    return `${r.kind} ${shown} has ${entries.length} attributes; at most ${L.attributes}`;
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > L.attributeKeyChars)
      return `${r.kind} ${shown} has an attribute name of ${k.length} characters; 1 to ${L.attributeKeyChars}`;
    if (v.length > L.attributeValueChars)
      return `${r.kind} ${shown} attribute ${k} has ${v.length} characters; at most ${L.attributeValueChars}`;
  }
  return null;
}
