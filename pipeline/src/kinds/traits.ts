// What the rest of the system asks about a stage kind without naming one: whether
// it reads the run's source, and where its secret references are written.
import { kindFor, type StageType } from './index.js';

/** `needs`: the run must bring its files (a git source or an upload); `reads`: it uses them if any; null: never. */
export function sourceUseOf(type: StageType): 'needs' | 'reads' | null {
  return kindFor(type).source ?? null;
}

/** The stage key its secret references are written under, for messages naming where a secret is used. */
export function secretsKeyOf(type: StageType): string {
  return kindFor(type).ownSecrets?.key ?? 'env';
}
