/**
 * The orphan sweep of the embedded store (object-store.ts). A blob is renamed into blobs/ before the
 * index row that names it commits, so a crash between the two leaves a file that nothing references
 * and nothing would ever remove. After start, in the background, the sweep walks blobs/ and removes the
 * files the index does not reference and that are older than a grace period: an upload being committed
 * right now has a fresh file (its modification time is when its last byte was written), so it is never
 * touched. The referenced set is read in pages before the walk and kept in memory (about 100 bytes a
 * blob); the walk uses asynchronous file calls, so the server keeps serving meanwhile.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../shared/logger.ts';

export interface SweepResult {
  /** Files removed. */
  files: number;
  /** Their bytes. */
  bytes: number;
}

/** Files younger than this are left alone, whatever the index says (uploads being committed). */
export const ORPHAN_GRACE_MS = 60 * 60_000;
/** How long after start the sweep begins: start-up itself is not slowed. */
const SWEEP_DELAY_MS = 10_000;

/**
 * Removes the files under `blobDir` (`<root>/blobs/<ab>/<id>`) whose name is not in `referenced` and
 * whose modification time is before `cutoff` (epoch ms). `referenced` is read to its end first.
 */
export async function sweepOrphanBlobs(options: {
  blobDir: string;
  referenced: AsyncIterable<string>;
  cutoff: number;
  signal?: AbortSignal;
}): Promise<SweepResult> {
  const { blobDir, cutoff, signal } = options;
  const referenced = new Set<string>();
  for await (const id of options.referenced) referenced.add(id);
  const result: SweepResult = { files: 0, bytes: 0 };
  for (const dir of await entries(blobDir)) {
    if (!dir.isDirectory()) continue;
    const dirPath = path.join(blobDir, dir.name);
    for (const file of await entries(dirPath)) {
      signal?.throwIfAborted();
      if (!file.isFile() || referenced.has(file.name)) continue;
      const filePath = path.join(dirPath, file.name);
      try {
        const { mtimeMs, size } = await stat(filePath);
        if (mtimeMs >= cutoff) continue;
        await unlink(filePath);
        result.files++;
        result.bytes += size;
      } catch (error) {
        // Removed meanwhile (an overwrite's old blob, a released one): nothing left to do.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
  return result;
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export interface OrphanSweepOptions {
  logger: Logger;
  /** Default ORPHAN_GRACE_MS. */
  olderThanMs?: number;
  /** Default 10 s after start. */
  delayMs?: number;
}

/**
 * Runs `store.sweepOrphans` (ObjectStore's) once, `delayMs` after now, and logs what it removed; errors are logged,
 * never thrown. `stop()` cancels it (or stops it between files) and resolves once it has ended, so the
 * store can be closed.
 */
export function startOrphanSweep(
  store: { sweepOrphans(options: { olderThanMs: number; signal?: AbortSignal }): Promise<SweepResult> },
  options: OrphanSweepOptions,
): { stop(): Promise<void> } {
  const { logger } = options;
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  const timer = setTimeout(() => {
    running = store
      .sweepOrphans({ olderThanMs: options.olderThanMs ?? ORPHAN_GRACE_MS, signal: abort.signal })
      .then(({ files, bytes }) => {
        if (files > 0) {
          logger.info(
            { files, bytes },
            `Removed ${files} orphaned blob ${files === 1 ? 'file' : 'files'} (${bytes} bytes) from the object store.`,
          );
        } else logger.debug('The object store has no orphaned blob files.');
      })
      .catch((error: unknown) => {
        if (abort.signal.aborted) return;
        logger.error({ err: error }, 'The object store orphan sweep failed.');
      });
  }, options.delayMs ?? SWEEP_DELAY_MS);
  timer.unref();
  return {
    async stop() {
      clearTimeout(timer);
      abort.abort();
      await running;
    },
  };
}
