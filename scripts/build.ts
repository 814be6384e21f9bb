// `npm run build` (and `ensure_build` in scripts/lib.sh): bundles the CLI, the server and the
// agent into ESM files under dist/ with esbuild, so `dockyard` starts without compiling
// TypeScript (tsx costs about a second a call). One build with code splitting: `dockyard
// server` and `dockyard agent` import dist/server.js and dist/agent.js, and a client command
// loads only the chunks it needs. The sources stay runnable with tsx; dist/ is generated.
//
// Files read at run time (the spawner's and supervisor's .mjs helpers, the native spawner,
// migrations/, the pipeline schema) are not copied: every `import.meta.url` in our sources
// is rewritten to the source file's own URL, computed from the bundle's location, so
// `new URL("./helper.mjs", import.meta.url)` means the same file under tsx and in dist/.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'dist');

/** The bundles; the CLI finds the other two by these names (cli/src/commands/processes.ts). */
const ENTRIES = {
  dockyard: 'cli/src/main.ts',
  server: 'control-plane/src/main.ts',
  agent: 'agent/src/main.ts',
  // The ui-test journey child, spawned by the agent as its own process (agent/src/ui-test/run-journey.ts).
  'ui-journey': 'agent/src/ui-test/journey-runner.ts',
};

/**
 * Packages left out of the bundle and imported from their installed location at run time:
 * PGlite reads its .wasm and data files next to its own module; playwright-core reads its own files too. The others are optional
 * native bindings, never built here (pnpm-workspace.yaml), that their users require inside
 * a try or only when asked for: pg's pg-native, ssh2's cpu-features (through dockerode).
 */
const EXTERNAL_FROM_NODE_MODULES = ['@electric-sql/pglite', 'playwright-core'];
const EXTERNAL = ['pg-native', 'cpu-features'];

const BANNER = [
  'import { createRequire as __dyCreateRequire } from "node:module";',
  'import { fileURLToPath as __dyFileURLToPath } from "node:url";',
  'const require = __dyCreateRequire(import.meta.url);',
  'const __dyFilename = __dyFileURLToPath(import.meta.url);',
  'const __dyDirname = __dyFilename.slice(0, __dyFilename.lastIndexOf("/"));',
].join(' ');

/** Script files; those of our own sources (not node_modules) get `import.meta.url` rewritten. */
const SCRIPT = /\.(ts|mts|js|mjs)$/;

const sourceUrlPlugin: esbuild.Plugin = {
  name: 'source-url',
  setup(build) {
    build.onLoad({ filter: SCRIPT }, async (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return undefined;
      // Every output file sits directly in dist/, so "../" from any of them is the repository.
      const fromDist = path.relative(OUT, args.path).split(path.sep).join('/');
      const url = `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: /\.m?ts$/.test(args.path) ? 'ts' : 'js' };
    });
  },
};

const externalFromNodeModulesPlugin: esbuild.Plugin = {
  name: 'external-from-node-modules',
  setup(build) {
    const filter = new RegExp(`^(${EXTERNAL_FROM_NODE_MODULES.map((p) => p.replace(/[/.]/g, '\\$&')).join('|')})(/|$)`);
    build.onResolve({ filter }, async (args) => {
      if (args.pluginData === 'resolving') return undefined;
      const found = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        pluginData: 'resolving',
      });
      if (found.errors.length > 0) return { errors: found.errors };
      // A path relative to dist/, so the build does not depend on where the checkout lives.
      const rel = path.relative(OUT, found.path).split(path.sep).join('/');
      return { path: rel.startsWith('.') ? rel : `./${rel}`, external: true };
    });
  },
};

/**
 * Builds dist/ and writes dist/.build-hash with `hash` (what ensure_build compares). The build
 * goes to a sibling directory first (at the same depth, so the paths the plugins compute from
 * dist/ hold) and replaces dist/ only when it succeeded. Throws with esbuild's messages.
 */
export async function build(hash: string): Promise<void> {
  const tmp = `${OUT}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: ENTRIES,
      outdir: tmp,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'linked',
      logLevel: 'warning',
      external: EXTERNAL,
      define: {
        __dirname: '__dyDirname',
        __filename: '__dyFilename',
        // What `dockyard server` and `dockyard agent` import in the bundle (cli/src/commands/processes.ts).
        DOCKYARD_BUNDLES: JSON.stringify({
          '@dockyard/control-plane': 'dist/server.js',
          '@dockyard/agent': 'dist/agent.js',
        }),
        // The ui-test journey child's bundle (agent/src/ui-test/run-journey.ts spawns it).
        DOCKYARD_UI_JOURNEY: JSON.stringify('dist/ui-journey.js'),
      },
      // CommonJS dependencies call require() for Node's builtins and read __dirname; an ES module
      // has neither. __dirname/__filename are renamed (define) so they never clash with a bundled name.
      banner: { js: BANNER },
      plugins: [sourceUrlPlugin, externalFromNodeModulesPlugin],
    });
    await writeFile(path.join(tmp, '.build-hash'), `${hash}\n`);
    // dist/release/ holds the release packages (scripts/package.ts), not build output: kept.
    await rename(path.join(OUT, 'release'), path.join(tmp, 'release')).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rm(OUT, { recursive: true, force: true });
    await rename(tmp, OUT);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const hash = process.argv[2];
  if (!hash || !/^[0-9a-f]{64}$/.test(hash)) {
    process.stderr.write(
      'usage: node --import tsx scripts/build.ts HASH (the sha256 of the inputs; `npm run build` computes it)\n',
    );
    process.exit(2);
  }
  build(hash).catch((err: unknown) => {
    process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
