// An agent's reported outputs -> the stored row, bounded and checked: they end
// up in later stages' fields and in every view of the run.
import type { StageOutputs } from "@dockyard/proto";
import type { StageOutputsRow } from "../store/schema";
import { InvalidError } from "../errors";

const MAX_OUTPUTS = 64;
const MAX_VALUE_BYTES = 4096;
const KEY = /^[A-Za-z0-9_.-]{1,128}$/;

export function outputsFromWire(o: StageOutputs | undefined): StageOutputsRow | null {
  if (!o) return null;
  const entries = Object.entries(o.values);
  if (entries.length > MAX_OUTPUTS)
    throw new InvalidError(`${entries.length} outputs; at most ${MAX_OUTPUTS} are allowed`);
  for (const [k, v] of entries) {
    if (!KEY.test(k)) throw new InvalidError(`output name '${k.slice(0, 64)}' must match ${KEY.source}`);
    if (Buffer.byteLength(v) > MAX_VALUE_BYTES)
      throw new InvalidError(`output '${k}' is longer than ${MAX_VALUE_BYTES} bytes`);
  }
  const row: StageOutputsRow = { values: Object.fromEntries(entries) };
  if (o.image) {
    const i = o.image;
    row.image = {
      ref: i.ref.slice(0, 512),
      id: i.id.slice(0, 128),
      digest: i.digest.slice(0, 128),
      sizeBytes: Number(i.sizeBytes),
      layers: i.layers,
    };
  }
  if (o.tests) {
    const t = o.tests;
    row.tests = { passed: t.passed, failed: t.failed, skipped: t.skipped, errors: t.errors, total: t.total };
  }
  return row;
}
