// Problems of a service definition come from two files (the service file and its env file): each names its own.
import { formatProblems } from '../format.js';
import type { Problem } from '../types.js';

/** A {@link Problem} in one of a service's files. */
export interface ServiceProblem extends Problem {
  /** The file as the caller named it (the service file's path, or its env file's). */
  file: string;
}

/** Renders problems one per line, compiler style, each with its own file: `services/web.yml:3:5: port: ...`. */
export function formatServiceProblems(problems: readonly ServiceProblem[]): string {
  return problems.map((p) => formatProblems([p], p.file)).join('\n');
}

/** Tags problems with the file they are in. */
export const inFile = (file: string, problems: readonly Problem[]): ServiceProblem[] =>
  problems.map((p) => ({ ...p, file }));
