/**
 * How the benchmarks that time a start measure it (bench/startup.ts, bench/helpers.ts's startTimed). Kept
 * apart from bench/helpers.ts, which loads the test helpers, the app and minio: startup.ts measures
 * processes it spawns itself and loads none of that.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { newestMtime } from '../scripts/source-stamp.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/**
 * Waits for `baseUrl`'s `/healthz` to answer 200, then `idleMs` more: the milliseconds from `started`
 * (a performance.now() taken before the spawn) to that first 200, and the process's resident memory
 * (VmRSS, MB) at the end of the idle time.
 */
export async function readyAndIdle(
  baseUrl: string,
  pid: number,
  started: number,
  idleMs: number,
): Promise<{ readyMs: number; idleRssMb: number }> {
  for (;;) {
    const answer = await fetch(`${baseUrl}/healthz`).catch(() => undefined);
    if (answer?.status === 200) break;
    await sleep(5);
  }
  const readyMs = performance.now() - started;
  await sleep(idleMs);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!rss) throw new Error(`process ${pid} reports no resident memory`);
  return { readyMs, idleRssMb: Number(rss) / 1024 };
}

/**
 * Whether `skyvault` runs its bundle: what bin/skyvault.js decides, the bundle (dist/server) only when no
 * source is newer than its build, the sources through tsx otherwise. A start measured on stale sources
 * measures tsx too; the benchmarks that time starts say which one ran.
 */
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
