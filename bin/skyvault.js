#!/usr/bin/env node
// Starts Skyvault from the bundle that `npm ci` builds (scripts/build-server.js, dist/server/), so no
// TypeScript is compiled at start. Where the sources changed after that build (a developer's checkout)
// or SKYVAULT_FROM_SOURCE=1, it runs the sources through tsx instead (Node 20 cannot strip types).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { newestMtime } from '../scripts/source-stamp.js';

const root = new URL('..', import.meta.url);

function bundleIsCurrent() {
  if (process.env.SKYVAULT_FROM_SOURCE === '1') return false;
  try {
    const { sourcesAt } = JSON.parse(readFileSync(new URL('dist/server/build.json', root), 'utf8'));
    return newestMtime(fileURLToPath(new URL('src', root))) <= sourcesAt;
  } catch {
    return false;
  }
}

let main;
if (bundleIsCurrent()) {
  // Stack traces name the bundle's files and the functions as written. Node maps
  // them to the TypeScript files and lines with NODE_OPTIONS=--enable-source-maps: not the default, as
  // reading the maps of the bundled packages at start costs about 15 MB of memory for good.
  ({ main } = await import(new URL('dist/server/skyvault.mjs', root).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
const code = await main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
