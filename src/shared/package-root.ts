/**
 * The package's root directory, where package.json is, found by walking up from this module: the same
 * answer from the sources (src/shared/) and from the bundle `npm ci` builds (dist/server/, see
 * scripts/build-server.js), where `import.meta.url` names another depth. Files shipped beside the code
 * (package.json, the Pilot page, the web build, the simulator's video) are found from here.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, e.g. `packagePath('src', 'http', 'pilot', 'index.html')`. */
export function packagePath(...parts: string[]): string {
  return path.join(PACKAGE_ROOT, ...parts);
}
