/**
 * `skyvault storage …`: `init` (storage-init.ts) creates the bucket and its CORS rule; `migrate` moves
 * the embedded store's objects (`<data dir>/objects`) into the bucket SKYVAULT_STORAGE configures. storage/migrate.ts does the work
 * and explains why this is safe while Skyvault runs; docs/storage.md has the operator's side. The
 * target is checked as `serve` checks it at start. Mistakes end with one plain sentence and exit code 1
 * (2 for bad arguments), as `serve` and `admin` do.
 */
import { parseArgs } from 'node:util';
import { reportOperatorError } from './cli-errors.ts';
import { type CommandIo, count, loadCommandConfig } from './cli-output.ts';
import { createLogger } from './shared/logger.ts';
import { EmbeddedStoreReader, type MigrationProgress, migrateObjects } from './storage/migrate.ts';
import { NO_EMBEDDED_STORE, type OpenedStorage, openStorage } from './storage/open-storage.ts';
import { init } from './storage-init.ts';
import { STORAGE_USAGE } from './storage-usage.ts';

export interface StorageIo extends CommandIo {
  /** Stops the run; without one, the first SIGINT or SIGTERM does. */
  signal?: AbortSignal;
}

/** Failed objects printed one per line before "… and N more". */
const FAILURES_SHOWN = 10;
/** A progress line at most this often, or after this many objects. */
const PROGRESS_EVERY_MS = 5000;
const PROGRESS_EVERY_OBJECTS = 500;

export async function storage(args: string[], io: StorageIo): Promise<number> {
  const [action, ...rest] = args;
  if (action === 'init') return init(rest, io);
  let values: { config?: string | undefined; 'dry-run'?: boolean; concurrency?: string };
  try {
    if (action !== 'migrate') {
      throw new Error(`storage needs an action: "init" or "migrate"${action ? `, not "${action}"` : ''}`);
    }
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c' },
        'dry-run': { type: 'boolean', default: false },
        concurrency: { type: 'string', default: '4' },
      },
    }));
    const concurrency = values.concurrency ?? '';
    if (!/^[1-9]\d*$/.test(concurrency) || Number(concurrency) > 64) {
      throw new Error(`--concurrency must be a whole number from 1 to 64, not "${concurrency}"`);
    }
  } catch (error) {
    io.err(`${(error as Error).message}\n\nUsage:\n${STORAGE_USAGE}`);
    return 2;
  }

  const stop = new AbortController();
  const onSignal = () => {
    io.err('Stopping: the copies in flight are cancelled (nothing partial is left in the bucket).');
    stop.abort();
  };
  if (io.signal) io.signal.addEventListener('abort', () => stop.abort(), { once: true });
  else for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, onSignal);
  let source: EmbeddedStoreReader | undefined;
  let target: OpenedStorage | undefined;
  try {
    const config = loadCommandConfig(io, values.config);
    const { storage: settings } = config;
    if (settings.kind === 'local' || !settings.cloud) {
      io.err(
        'SKYVAULT_STORAGE is local, so there is no bucket to migrate to: set SKYVAULT_STORAGE=minio, aws or ali and the SKYVAULT_S3_* settings of the bucket (docs/storage.md), keeping SKYVAULT_DATA_DIR on the data directory whose objects/ holds the embedded store.',
      );
      return 1;
    }
    source = EmbeddedStoreReader.open(settings.root);
    if (!source) {
      io.err(
        `${settings.root} holds no embedded store (no index.db with objects): set SKYVAULT_DATA_DIR to the data directory Skyvault used with SKYVAULT_STORAGE=local.`,
      );
      return 1;
    }
    target = await openStorage(config, NO_EMBEDDED_STORE, {
      defaultPublicHostname: '127.0.0.1',
      logger: createLogger(config.log.level, { write: (line: string) => io.err(line.trimEnd()) }),
      now: Date.now,
    });
    await target.check();

    const where = `the ${settings.kind} bucket "${settings.bucket}" at ${target.place}`;
    const dryRun = values['dry-run'] === true;
    const totals = await source.totals();
    io.out(
      `${dryRun ? 'Comparing' : 'Copying'} the embedded store in ${settings.root} (${count(totals.objects, 'object')}, ${bytes(totals.bytes)}) ${dryRun ? 'with' : 'to'} ${where}, ${values.concurrency} at a time.`,
    );
    let printedAt = Date.now();
    let printedDone = 0;
    const result = await migrateObjects(source, target.storage, {
      concurrency: Number(values.concurrency),
      dryRun,
      signal: stop.signal,
      onProgress: (progress) => {
        const now = Date.now();
        if (now - printedAt < PROGRESS_EVERY_MS && progress.done - printedDone < PROGRESS_EVERY_OBJECTS)
          return;
        printedAt = now;
        printedDone = progress.done;
        io.out(progressLine(progress));
      },
    });

    const seconds = Math.max(result.elapsedMs / 1000, 0.001);
    const replaced =
      result.replaced > 0 ? `, ${result.replaced} of them replacing other bytes under the same key` : '';
    if (dryRun) {
      io.out(
        `Dry run: ${count(result.copied, 'object')} to copy (${bytes(result.bytesCopied)}${replaced}), ${result.skipped} already in the bucket. Nothing was copied.`,
      );
    } else {
      io.out(
        `${result.failed === 0 && !result.aborted && !result.stoppedEarly ? 'Done' : 'Not finished'}: ${count(result.copied, 'object')} copied (${bytes(result.bytesCopied)}${replaced}), ${result.skipped} already in the bucket and skipped, ${result.failed} failed, in ${seconds.toFixed(1)} s (${bytes(result.bytesCopied / seconds)}/s).`,
      );
    }
    if (result.vanished > 0) {
      io.out(
        `${count(result.vanished, 'object')} ${result.vanished === 1 ? 'was' : 'were'} deleted from the embedded store during the run, and not copied.`,
      );
    }
    if (result.failed > 0) io.err(`Not ${dryRun ? 'compared' : 'copied'} (${result.failed}):`);
    for (const failure of result.failures.slice(0, FAILURES_SHOWN)) {
      io.err(`  ${JSON.stringify(failure.key)} ${failure.reason}`);
    }
    if (result.failed > FAILURES_SHOWN) io.err(`  … and ${result.failed - FAILURES_SHOWN} more.`);
    if (result.stoppedEarly) io.err(result.stoppedEarly);
    if (result.aborted) {
      io.err(
        `Stopped after ${result.done} of ${result.total.objects} objects: run the same command again to copy the rest (what is in the bucket already is skipped).`,
      );
    }
    if (result.failed > 0 || result.aborted || result.stoppedEarly) {
      if (!dryRun) {
        io.out(
          'Nothing was deleted. Run the same command again (it copies only what is missing), and keep Skyvault on the embedded store until a run ends with "Done".',
        );
      }
      return 1;
    }
    if (!dryRun) {
      io.out(`Next: restart Skyvault with these settings: devices and the library then use ${where}.`);
      io.out(
        '  If Skyvault ran during the migration, stop it and run this command once more first: it copies only what arrived meanwhile.',
      );
      io.out(
        `  Nothing was deleted: ${settings.root} still holds the embedded store; remove it once you are satisfied that the bucket has everything.`,
      );
    }
    return 0;
  } catch (error) {
    const reported = reportOperatorError(error, io.err);
    if (reported !== undefined) return reported;
    if (typeof (error as { code?: unknown }).code === 'string') {
      // The file system or SQLite (a permission, a full disk): an operator's problem, said plainly.
      io.err(`The migration stopped: ${(error as Error).message}`);
      return 1;
    }
    throw error;
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, onSignal);
    source?.close();
    await target?.storage.close();
  }
}

function progressLine(p: MigrationProgress): string {
  const seconds = Math.max(p.elapsedMs / 1000, 0.001);
  return `  ${p.done}/${p.total.objects} objects, ${bytes(p.bytesDone)} of ${bytes(p.total.bytes)}, ${bytes(p.bytesCopied / seconds)}/s, ${p.skipped} skipped, ${p.failed} failed`;
}

/** 1536 → "1.5 KiB". */
function bytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} ${units[0]}` : `${value.toFixed(1)} ${units[unit]}`;
}
