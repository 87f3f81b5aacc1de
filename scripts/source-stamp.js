// When the sources last changed: the newest modification time under a directory. scripts/build-server.js
// records it with the bundle, and bin/skyvault.js compares, to run the bundle only when it is current.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** The newest modification time (ms) of the files under `dir`. */
export function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}
