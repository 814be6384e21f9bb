import { rm } from 'node:fs/promises';
import { executorContract } from './contract.js';
import { ShellExecutor } from './shell.js';
import type { SpawnerKind } from './spawner/client.js';
import { tempDir } from '@dockyard/testkit';

// Both spawner helpers: the native one (the default once built) and the Node fallback.
for (const spawner of ['native', 'node'] as SpawnerKind[]) {
  executorContract(`shell (${spawner} spawner)`, async () => {
    const workDir = tempDir('shell');
    const executor = new ShellExecutor({ workDir, spawner });
    return {
      executor,
      image: null,
      cleanup: async () => {
        await executor.close();
        await rm(workDir, { recursive: true, force: true });
      },
    };
  });
}
