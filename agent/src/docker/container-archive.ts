import type Dockerode from 'dockerode';
import { extract } from 'tar-stream';
import { engineMessage, statusOf } from './environment-docker.js';

/** A regular file read out of a container. */
export interface ArchivedFile {
  /** Path inside the tar (relative: the base name of the requested path first). */
  name: string;
  data: Buffer;
}

export type ReadFilesResult = { ok: true; files: ArchivedFile[] } | { ok: false; missing: boolean; message: string };

/**
 * Reads the regular files at `path` (a file, or every file under a directory) from a
 * container, running or stopped, through getArchive. Stops at `maxBytes` in all, so a huge
 * report cannot exhaust memory. Never throws: a missing path is `{ ok: false, missing: true }`.
 */
export async function readContainerFiles(
  container: Dockerode.Container,
  path: string,
  maxBytes = 16 * 1024 * 1024,
): Promise<ReadFilesResult> {
  let tar: NodeJS.ReadableStream;
  try {
    tar = await container.getArchive({ path });
  } catch (err) {
    if (statusOf(err) === 404) return { ok: false, missing: true, message: `${path} does not exist in the container` };
    return { ok: false, missing: false, message: `cannot read ${path} from the container: ${engineMessage(err)}` };
  }
  const files: ArchivedFile[] = [];
  let total = 0;
  const ex = extract();
  try {
    await new Promise<void>((resolve, reject) => {
      ex.on('entry', (header, stream, next) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: unknown) => {
          const c = chunk as Buffer;
          total += c.length;
          if (total > maxBytes) ex.destroy(new Error(`more than ${maxBytes} bytes under ${path}`));
          else chunks.push(c);
        });
        stream.on('end', () => {
          if (header.type === 'file') files.push({ name: header.name, data: Buffer.concat(chunks) });
          next();
        });
        stream.resume();
      });
      ex.on('finish', resolve);
      ex.on('error', reject);
      tar.on('error', reject);
      tar.pipe(ex);
    });
  } catch (err) {
    return { ok: false, missing: false, message: `cannot read ${path} from the container: ${engineMessage(err)}` };
  }
  return { ok: true, files };
}
