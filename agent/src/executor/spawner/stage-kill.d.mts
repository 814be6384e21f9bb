export declare const TAG_VAR: 'DOCKYARD_SPAWN_TAG';
export declare function startTicks(pid: number): number | null;
export declare function forksSoFar(): number;
export declare function killStage(
  sid: number,
  tag: string | undefined,
  opts?: { since?: number; group?: boolean; forks?: number },
): void;
