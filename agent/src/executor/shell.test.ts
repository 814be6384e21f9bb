import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { executorContract } from './contract.js';
import { ShellExecutor } from './shell.js';

executorContract('shell', async () => {
  const workDir = await mkdtemp(join(tmpdir(), 'dockyard-shell-'));
  const executor = new ShellExecutor({ workDir });
  return {
    executor,
    image: null,
    cleanup: async () => {
      await executor.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
});
