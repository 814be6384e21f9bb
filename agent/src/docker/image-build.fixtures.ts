// Test helpers for the image-build tests: a context dir from a file map, and a way to look
// inside a built image without running it (docker save → each layer tar, read in memory;
// the test images are a few MB).
import { after } from 'node:test';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { extract } from 'tar-stream';
import { tempDir } from '@dockyard/testkit';

/**
 * The images and directories a test file creates, removed after it (registered on the
 * file's top level): push to `tags` and `dirs` as they are made.
 */
export function cleanedUp(docker: Docker): { tags: string[]; dirs: string[] } {
  const made = { tags: [] as string[], dirs: [] as string[] };
  after(async () => {
    for (const t of made.tags)
      await docker
        .getImage(t)
        .remove({ force: true })
        .catch(() => undefined);
    for (const d of made.dirs) await rm(d, { recursive: true, force: true });
  });
  return made;
}

/** Writes `files` (relative path → content) into a new temp dir and returns it. */
export async function makeDir(files: Record<string, string>): Promise<string> {
  const dir = tempDir('build');
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
  return dir;
}

/** Every entry of a tar stream: name → content (empty for non-files). */
export async function readTar(
  stream: NodeJS.ReadableStream,
): Promise<Map<string, { type: string; data: Buffer; linkname?: string; uid?: number }>> {
  const out = new Map<string, { type: string; data: Buffer; linkname?: string; uid?: number }>();
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => {
        out.set(header.name, {
          type: header.type ?? 'file',
          data: Buffer.concat(chunks),
          linkname: header.linkname ?? undefined,
          uid: header.uid,
        });
        next();
      });
      body.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    (stream as Readable).on('error', reject);
  });
  (stream as Readable).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

/**
 * The saved image (`docker save` of one id) as raw bytes, plus its merged filesystem (later layers win; whiteouts
 * applied).
 */
export async function imageContents(docker: Docker, id: string): Promise<{ raw: Buffer; files: Map<string, Buffer> }> {
  const saved = await readTar((await docker.getImage(id).get()) as NodeJS.ReadableStream);
  const raw = Buffer.concat([...saved.values()].map((e) => e.data));
  const manifest = JSON.parse(saved.get('manifest.json')!.data.toString()) as { Layers: string[] }[];
  const files = new Map<string, Buffer>();
  for (const layer of manifest[0]!.Layers) {
    for (const [name, e] of await readTar(Readable.from([saved.get(layer)!.data]))) {
      const base = path.posix.basename(name);
      if (base.startsWith('.wh.')) files.delete(path.posix.join(path.posix.dirname(name), base.slice(4)));
      else if (e.type === 'file') files.set(name.replace(/^\.\//, ''), e.data);
    }
  }
  return { raw, files };
}
