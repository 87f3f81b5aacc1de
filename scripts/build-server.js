#!/usr/bin/env node
// Bundles Skyvault's TypeScript (src/) and the packages it imports into dist/server/ with esbuild, the
// compiler tsx itself uses, so that `skyvault` starts without compiling its sources at every start
// (bin/skyvault.js) and without resolving and loading some 1,900 module files one by one: typebox alone
// is 684 files, kysely 264, and Node's ES module loader spends about half a millisecond on each (issue
// 15: 1.4 s to ready with the packages left in node_modules, 0.8 s bundled). Split at the command
// line's and the server's lazy imports, so `skyvault admin …` does not load the server, nor a start the
// AWS SDK unless S3 is configured. Run by `npm ci` (the `prepare` script) and `npm run build`.
// A stamp records the newest source file it was built from: bin/skyvault.js runs the sources instead
// when one is newer (a developer's checkout), so the bundle is never stale.
import { rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { build } from 'esbuild';
import { newestMtime } from './source-stamp.js';

const root = path.resolve(import.meta.dirname, '..');
// `--outdir DIR` (tests) builds elsewhere; it must stay inside the package to find package.json and
// node_modules from there.
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 ? path.resolve(process.argv[at + 1] ?? '') : path.join(root, 'dist', 'server');

/**
 * Packages that stay in node_modules, loaded from there at run time: native addons, packages that read
 * their own files at run time (which a bundle in dist/server would look for in the wrong place), and
 * optional packages that may not be installed.
 */
const KEPT_IN_NODE_MODULES = new Set([
  'better-sqlite3', // native addon, found by `bindings` next to its own package.json
  'sharp', // native addon, lazily loaded
  '@ffmpeg-installer/ffmpeg', // picks its platform's package (and binary) at run time
  '@fastify/swagger-ui', // serves its static files from its own directory
  'pino', // its transports start worker threads from files in its own directory
  'ali-oss', // lazily loaded (OSS only); its urllib requires optional proxy packages
  'pg-native', // optional: pg loads it only for `native` clients, which Skyvault does not use
  'bufferutil', // optional speed-ups that ws loads when installed
  'utf-8-validate',
]);
const packageOf = (specifier) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

const started = performance.now();
const sourcesAt = newestMtime(path.join(root, 'src'));
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { skyvault: 'src/cli.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // Bundled CommonJS packages call `require` for Node's own modules: an ES module has none of its own.
  banner: {
    js: "import { createRequire as __skyvaultCreateRequire } from 'node:module'; const require = __skyvaultCreateRequire(import.meta.url);",
  },
  plugins: [
    {
      name: 'kept-in-node-modules',
      setup(esbuild) {
        esbuild.onResolve({ filter: /^[^./#]/ }, ({ path: specifier }) =>
          specifier.startsWith('node:') || KEPT_IN_NODE_MODULES.has(packageOf(specifier))
            ? { path: specifier, external: true }
            : undefined,
        );
      },
    },
  ],
  // Linked maps without the sources' text: stack traces name the TypeScript files and lines where
  // Node is started with --enable-source-maps (bin/skyvault.js says why that is not the default).
  sourcemap: 'linked',
  sourcesContent: false,
  // No keepNames: it wraps every named function and class in a call that sets its `name`, closures made
  // per request included, which cost Fastify's own 404 about 20 µs of CPU in 60–80 (bench/pilot-api,
  // alternating builds). Names stay as written unless two modules of a chunk share one (then esbuild
  // suffixes a number); Skyvault's errors set their `name` as a string, and source maps map everything
  // back (NODE_OPTIONS=--enable-source-maps).
  logLevel: 'warning',
});
writeFileSync(path.join(outdir, 'build.json'), `${JSON.stringify({ sourcesAt })}\n`);
process.stdout.write(
  `Built ${path.relative(root, path.join(outdir, 'skyvault.mjs'))} from src/ in ${Math.round(performance.now() - started)} ms.\n`,
);
