/**
 * Whether `skyvault` runs its bundle: what bin/skyvault.js decides, the bundle (dist/server) only when no
 * source is newer than its build, the sources through tsx otherwise. A start measured on stale sources
 * measures tsx too; the benchmarks that time starts say which one ran.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

export function bundleIsCurrent(): boolean {
  try {
    const { sourcesAt } = JSON.parse(readFileSync(path.join(ROOT, 'dist/server/build.json'), 'utf8')) as {
      sourcesAt: number;
    };
    // As scripts/source-stamp.js reads it (plain JavaScript, without types to import here).
    const src = path.join(ROOT, 'src');
    return readdirSync(src, { recursive: true, withFileTypes: true }).every(
      (entry) => !entry.isFile() || statSync(path.join(entry.parentPath, entry.name)).mtimeMs <= sourcesAt,
    );
  } catch {
    return false;
  }
}
