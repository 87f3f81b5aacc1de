#!/usr/bin/env node
// Bundles Skyvault's TypeScript (src/, our code only: every package stays an import of node_modules)
// into dist/server/ with esbuild, the compiler tsx itself uses, so that `skyvault` starts without
// compiling its sources at every start (bin/skyvault.js). Split at the command line's lazy imports, so
// `skyvault admin …` does not load the server. Run by `npm ci` (the `prepare` script) and `npm run build`.
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
  packages: 'external',
  sourcemap: 'linked',
  // Stack traces and logs keep the names the code gives its classes and functions.
  keepNames: true,
  logLevel: 'warning',
});
writeFileSync(path.join(outdir, 'build.json'), `${JSON.stringify({ sourcesAt })}\n`);
process.stdout.write(
  `Built ${path.relative(root, path.join(outdir, 'skyvault.mjs'))} from src/ in ${Math.round(performance.now() - started)} ms.\n`,
);
