/**
 * Whether `skyvault` runs its bundle: what bin/skyvault.js decides, the bundle (dist/server) only when no
 * source is newer than its build, the sources through tsx otherwise. A start measured on stale sources
 * measures tsx too; the benchmarks that time starts say which one ran.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { newestMtime } from '../scripts/source-stamp.js';

const ROOT = path.resolve(import.meta.dirname, '..');

export function bundleIsCurrent(): boolean {
  try {
    const { sourcesAt } = JSON.parse(readFileSync(path.join(ROOT, 'dist/server/build.json'), 'utf8')) as {
      sourcesAt: number;
    };
    return newestMtime(path.join(ROOT, 'src')) <= sourcesAt;
  } catch {
    return false;
  }
}
