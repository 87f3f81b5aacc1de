/**
 * `skyvault backup <dir>` and `skyvault restore <dir>`: the data safety of the one-machine default.
 *
 * A backup is a directory laid out as the data directory is (`skyvault.db`, `objects/index.db`,
 * `objects/blobs/ab/<id>`, `secret.key`) plus `manifest.json`, written last: a directory without one is
 * not a backup. It is taken while Skyvault runs, from this other process:
 *
 * - The SQLite database with SQLite's online backup API, all pages in one step: one read transaction,
 *   which in WAL mode neither blocks Skyvault's writers nor restarts when they commit.
 * - Then the object store: a hold committed in its index (object-store.ts explains it), the index
 *   copied the same way, then every blob the copy names, hard-linked when the backup is on the same
 *   filesystem (blobs are never modified, only unlinked) and copied otherwise. While the hold lasts the
 *   store unlinks no blob, so every blob the index copy names is still there to copy; the hold ends at
 *   the end and the blobs it kept are unlinked then.
 * - The database first, the store second: Pilot and docks upload an object before Skyvault records
 *   it, so every media record of the database copy has its object in the store's. The only seam is a
 *   deletion that runs entirely between the two copies (milliseconds apart): its record comes back
 *   without its file.
 *
 * A restore checks the whole backup (manifest, both databases' integrity, every blob the index names
 * with its size) and that no Skyvault has the data directory open before it changes anything, then
 * assembles the data in a staging directory inside the data directory and renames it into place.
 *
 * Mistakes end with one plain sentence and exit code 1 (2 for bad arguments), as `admin` does.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import { BACKUP_USAGE } from './backup-usage.ts';
import { count } from './cli-output.ts';
import { type Config, ConfigError, loadConfig } from './config/config.ts';
import { VERSION } from './shared/version.ts';
import {
  blobPath,
  type BlobRef,
  HOLD_TTL_MS,
  referencedBlobs,
  StoreIndex,
} from './storage/local/object-store.ts';

export interface BackupIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A problem to report in one sentence (exit code 1). */
class BackupError extends Error {}

const MANIFEST = 'manifest.json';
const MANIFEST_FORMAT = 'skyvault-backup';
const MANIFEST_VERSION = 1;
/** Blob files between two progress lines. */
const PROGRESS_EVERY = 1000;
/** Blob files linked or copied at once. */
const COPY_CONCURRENCY = 8;
/** How often a backup renews its hold on the object store (the hold lasts HOLD_TTL_MS). */
const RENEW_HOLD_MS = 60_000;
/** better-sqlite3's largest step: the whole database in one step (see the top of this file). */
const ALL_PAGES = 0x7fffffff;
const COUNT_OBJECTS = 'SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM objects';

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  /** The Skyvault version that made it. */
  skyvault: string;
  /** ISO 8601. */
  createdAt: string;
  /** The SQLite database; null when the database is PostgreSQL. */
  database: { file: 'skyvault.db'; bytes: number } | null;
  /** The embedded object store; null with cloud storage. */
  objects: {
    index: 'objects/index.db';
    indexBytes: number;
    objects: number;
    objectBytes: number;
    /** Multipart uploads in progress (their parts are in `blobs` too). */
    uploads: number;
    blobs: number;
    blobBytes: number;
  } | null;
  /** The data directory's secret.key; null when SKYVAULT_SECRET_KEY replaces it. */
  secretKey: { file: 'secret.key' } | null;
}

export async function backup(args: string[], io: BackupIo): Promise<number> {
  return command('backup', args, io, async (dir, _values, config) => {
    await runBackup(config, path.resolve(io.cwd ?? process.cwd(), dir), io);
  });
}

export async function restore(args: string[], io: BackupIo): Promise<number> {
  return command('restore', args, io, async (dir, values, config) => {
    await runRestore(config, path.resolve(io.cwd ?? process.cwd(), dir), values.force === true, io);
  });
}

async function command(
  name: 'backup' | 'restore',
  args: string[],
  io: BackupIo,
  run: (dir: string, values: { force?: boolean }, config: Config) => Promise<void>,
): Promise<number> {
  let dir: string;
  let values: { config?: string; force?: boolean };
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        ...(name === 'restore' ? { force: { type: 'boolean' as const, default: false } } : {}),
      },
    });
    values = parsed.values as typeof values;
    if (parsed.positionals.length !== 1) {
      throw new Error(`${name} needs one directory${parsed.positionals.length > 1 ? ', not several' : ''}`);
    }
    dir = parsed.positionals[0]!;
  } catch (error) {
    io.err(`${(error as Error).message}\n\nUsage:\n${BACKUP_USAGE}`);
    return 2;
  }
  try {
    const { config } = loadConfig({
      env: io.env ?? process.env,
      cwd: io.cwd ?? process.cwd(),
      configFile: values.config,
    });
    await run(dir, values, config);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const warning of error.warnings) io.err(`Warning: ${warning}`);
      io.err(`The settings are not usable:\n${error.problems.map((p) => `- ${p}`).join('\n')}`);
      return 1;
    }
    if (error instanceof BackupError) {
      io.err(error.message);
      return 1;
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------
// backup

async function runBackup(config: Config, target: string, io: BackupIo): Promise<void> {
  const database = config.database.kind === 'sqlite' ? config.database.file : undefined;
  const objects = config.storage.kind === 'local' ? config.storage.root : undefined;
  const secretKeyFile = config.auth.secretKey ? undefined : path.join(config.dataDir, 'secret.key');
  if (!database && !objects) {
    throw new BackupError(
      `There is nothing local to back up: the database is PostgreSQL (back it up with pg_dump) and the objects are in ${config.storage.kind} storage (use its own versioning or replication).`,
    );
  }
  if (isInside(target, config.dataDir)) {
    throw new BackupError(
      `The backup directory ${target} is inside the data directory ${config.dataDir}: put backups elsewhere, ideally on another disk.`,
    );
  }
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new BackupError(`${target} is not empty: give a new or empty directory for the backup.`);
  }
  const started = Date.now();
  await mkdir(target, { recursive: true });
  try {
    const manifest: BackupManifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      skyvault: VERSION,
      createdAt: new Date(started).toISOString(),
      database: null,
      objects: null,
      secretKey: null,
    };
    if (database) manifest.database = await backUpDatabase(database, path.join(target, 'skyvault.db'));
    let linked = 0;
    if (objects) {
      const result = await backUpObjects(objects, path.join(target, 'objects'), io);
      manifest.objects = result.manifest;
      linked = result.linked;
    }
    if (secretKeyFile && existsSync(secretKeyFile)) {
      await copyFile(secretKeyFile, path.join(target, 'secret.key'));
      await chmod(path.join(target, 'secret.key'), 0o600);
      manifest.secretKey = { file: 'secret.key' };
    }
    // Last: its presence says the backup is complete.
    await writeFile(path.join(target, `${MANIFEST}.tmp`), `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(path.join(target, `${MANIFEST}.tmp`), path.join(target, MANIFEST));

    const parts = [
      manifest.database && `the database (${formatBytes(manifest.database.bytes)})`,
      manifest.objects &&
        `${count(manifest.objects.objects, 'object')} (${formatBytes(manifest.objects.objectBytes)} in ${count(manifest.objects.blobs, 'blob file')}${linkedNote(linked, manifest.objects.blobs)})`,
      manifest.secretKey && 'secret.key',
    ].filter((part): part is string => Boolean(part));
    io.out(`Backed up ${joinList(parts)} to ${target} in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    if (!database) {
      io.out('The database is PostgreSQL: back it up with pg_dump; this backup holds the object store only.');
    }
    if (!objects) {
      io.out(
        `The objects are in ${config.storage.kind} storage, not in this backup: use the storage's own versioning or replication.`,
      );
    }
    if (!manifest.secretKey) {
      io.out(
        config.auth.secretKey
          ? 'SKYVAULT_SECRET_KEY is set: keep it with the backup, which does not hold it (device MQTT passwords need it).'
          : `There is no ${secretKeyFile}: device MQTT passwords cannot be opened after a restore.`,
      );
    }
    if (linked > 0) {
      io.out(
        'The blob files are hard links (same filesystem): they take no space, but only a backup on another disk survives a failing disk.',
      );
    }
  } catch (error) {
    // Never a half backup that looks whole: the directory was empty, remove what was written.
    await rm(target, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
}

async function backUpDatabase(file: string, copy: string): Promise<BackupManifest['database']> {
  let source: BetterSqlite3.Database;
  try {
    source = new BetterSqlite3(file, { fileMustExist: true, timeout: 10_000 });
  } catch (error) {
    throw new BackupError(
      `The database ${file} cannot be opened (${(error as Error).message}): check SKYVAULT_DATA_DIR, and that Skyvault has started with it once.`,
    );
  }
  try {
    await source.backup(copy, { progress: () => ALL_PAGES });
  } finally {
    source.close();
  }
  finishSnapshot(copy);
  return { file: 'skyvault.db', bytes: (await stat(copy)).size };
}

/** A copied database stands alone: a rollback journal instead of WAL (Skyvault turns WAL on when it opens it). */
function finishSnapshot(file: string, clean?: (db: BetterSqlite3.Database) => void): void {
  const db = new BetterSqlite3(file, { fileMustExist: true });
  try {
    clean?.(db);
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
}

async function backUpObjects(
  root: string,
  copyRoot: string,
  io: BackupIo,
): Promise<{ manifest: NonNullable<BackupManifest['objects']>; linked: number }> {
  let index: StoreIndex;
  try {
    index = new StoreIndex(root);
  } catch (error) {
    throw new BackupError(
      `The object store ${root} cannot be opened (${(error as Error).message}): check SKYVAULT_DATA_DIR, and that Skyvault has started with it once.`,
    );
  }
  const hold = index.addHold();
  let expired = false;
  const renewal = setInterval(() => {
    if (!index.renewHold(hold)) expired = true;
  }, RENEW_HOLD_MS);
  try {
    await mkdir(copyRoot, { recursive: true });
    const indexCopy = path.join(copyRoot, 'index.db');
    await index.connection.backup(indexCopy, { progress: () => ALL_PAGES });
    let blobs: BlobRef[] = [];
    let counts = { objects: 0, objectBytes: 0, uploads: 0 };
    finishSnapshot(indexCopy, (db) => {
      // The copy's own hold (and blobs released under it) mean nothing in a restored store.
      db.exec('DELETE FROM backup_holds; DELETE FROM released_blobs;');
      blobs = referencedBlobs(db);
      const objects = db.prepare(COUNT_OBJECTS).get() as { n: number; bytes: number };
      const uploads = db.prepare('SELECT count(*) AS n FROM uploads').get() as { n: number };
      counts = { objects: objects.n, objectBytes: objects.bytes, uploads: uploads.n };
    });
    const { linked } = await placeBlobs(blobs, index.blobDir, path.join(copyRoot, 'blobs'), io, (from) =>
      expired
        ? `The blob file ${from} was removed during the backup: the backup stalled for longer than its hold on the store lasts (${HOLD_TTL_MS / 60_000} minutes); run it again.`
        : `The object store's index names the blob file ${from}, which is not on disk: the store lost it before this backup, which was not written.`,
    );
    return {
      manifest: {
        index: 'objects/index.db',
        indexBytes: (await stat(indexCopy)).size,
        objects: counts.objects,
        objectBytes: counts.objectBytes,
        uploads: counts.uploads,
        blobs: blobs.length,
        blobBytes: blobs.reduce((sum, blob) => sum + blob.size, 0),
      },
      linked,
    };
  } finally {
    clearInterval(renewal);
    await index.endHold(hold).catch(() => {});
    index.close();
  }
}

/**
 * Hard-links (or copies, across filesystems) each blob from `fromDir` into `toDir`, a few at a time,
 * with a progress line every PROGRESS_EVERY files. A missing source ends it with `missing(...)`.
 */
async function placeBlobs(
  blobs: BlobRef[],
  fromDir: string,
  toDir: string,
  io: BackupIo,
  missing: (from: string) => string,
): Promise<{ linked: number }> {
  const dirs = new Set<string>();
  let canLink = true;
  let linked = 0;
  let done = 0;
  let bytes = 0;
  let next = 0;
  const place = async (blob: BlobRef) => {
    const from = blobPath(fromDir, blob.id);
    const to = blobPath(toDir, blob.id);
    const dir = path.dirname(to);
    if (!dirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      dirs.add(dir);
    }
    try {
      if (canLink) {
        try {
          await link(from, to);
          linked++;
          return;
        } catch (error) {
          // Another filesystem, or one without hard links: copy this one and all the next ones.
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw error;
          canLink = false;
        }
      }
      await copyFile(from, to);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(from)) {
        throw new BackupError(missing(from));
      }
      throw error;
    }
  };
  const worker = async () => {
    while (next < blobs.length) {
      const blob = blobs[next++]!;
      await place(blob);
      done++;
      bytes += blob.size;
      if (done % PROGRESS_EVERY === 0) {
        io.err(`${done} of ${blobs.length} blob files (${formatBytes(bytes)})…`);
      }
    }
  };
  await Promise.all(Array.from({ length: COPY_CONCURRENCY }, worker));
  return { linked };
}

// ---------------------------------------------------------------------------------------------------
// restore

async function runRestore(config: Config, source: string, force: boolean, io: BackupIo): Promise<void> {
  const manifest = await readManifest(source);
  const { dataDir } = config;
  if (manifest.database && config.database.kind !== 'sqlite') {
    throw new BackupError(
      'This backup holds a SQLite database, but SKYVAULT_DATABASE_URL names PostgreSQL: unset it to restore the backup into the data directory.',
    );
  }
  if (manifest.objects && config.storage.kind !== 'local') {
    throw new BackupError(
      `This backup holds the embedded object store, but SKYVAULT_STORAGE is ${config.storage.kind}: restore it with SKYVAULT_STORAGE=local, or copy its objects into that storage yourself.`,
    );
  }
  for (const file of [path.join(dataDir, 'skyvault.db'), path.join(dataDir, 'objects', 'index.db')]) {
    if (isOpenElsewhere(file)) {
      throw new BackupError(
        `Skyvault is running on ${dataDir} (${path.relative(dataDir, file)} is open): stop it, then restore.`,
      );
    }
  }
  if (!force && existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new BackupError(
      `The data directory ${dataDir} is not empty: restore into an empty one, or give --force to replace its ${joinList(restoredItems(manifest))}.`,
    );
  }
  const blobs = await verifyBackup(source, manifest);

  await mkdir(dataDir, { recursive: true });
  const staging = path.join(dataDir, `.restore-${randomUUID()}`);
  let linked = 0;
  try {
    await mkdir(staging);
    if (manifest.database)
      await copyFile(path.join(source, 'skyvault.db'), path.join(staging, 'skyvault.db'));
    if (manifest.objects) {
      const objects = path.join(staging, 'objects');
      await mkdir(path.join(objects, 'blobs'), { recursive: true });
      await copyFile(path.join(source, 'objects', 'index.db'), path.join(objects, 'index.db'));
      ({ linked } = await placeBlobs(
        blobs,
        path.join(source, 'objects', 'blobs'),
        path.join(objects, 'blobs'),
        io,
        (from) => `The backup lost ${from} while it was being restored; nothing was changed.`,
      ));
    }
    if (manifest.secretKey) {
      await copyFile(path.join(source, 'secret.key'), path.join(staging, 'secret.key'));
      await chmod(path.join(staging, 'secret.key'), 0o600);
    }
    // Everything is in place next to the data: swap it in. A database's old -wal must go with it, or
    // SQLite would replay it onto the restored file.
    for (const item of restoredItems(manifest)) {
      const target = path.join(dataDir, item);
      await rm(target, { recursive: true, force: true });
      if (item === 'skyvault.db') {
        for (const suffix of ['-wal', '-shm', '-journal']) await rm(`${target}${suffix}`, { force: true });
      }
      await rename(path.join(staging, item), target);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }

  const parts = [
    manifest.database && 'the database',
    manifest.objects &&
      `${count(manifest.objects.objects, 'object')} (${formatBytes(manifest.objects.objectBytes)})`,
    manifest.secretKey && 'secret.key',
  ].filter((part): part is string => Boolean(part));
  io.out(`Restored ${joinList(parts)} from the backup of ${manifest.createdAt} into ${dataDir}.`);
  if (!manifest.database) {
    io.out('This backup holds no database (it was made with PostgreSQL): restore that from its pg_dump.');
  }
  if (manifest.secretKey && config.auth.secretKey) {
    io.out(
      'SKYVAULT_SECRET_KEY is set, so the restored secret.key is not used: it must be the key the backup was made with.',
    );
  }
  if (linked > 0) {
    io.out('The blob files are hard links to the backup: blobs are never modified, so both stay intact.');
  }
}

/** What a restore replaces in the data directory. */
function restoredItems(manifest: BackupManifest): string[] {
  return [
    ...(manifest.database ? ['skyvault.db'] : []),
    ...(manifest.objects ? ['objects'] : []),
    ...(manifest.secretKey ? ['secret.key'] : []),
  ];
}

async function readManifest(source: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(path.join(source, MANIFEST), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BackupError(
      code === 'ENOENT'
        ? `${source} is not a complete Skyvault backup: it has no ${MANIFEST} (a backup writes it last).`
        : `The backup's ${MANIFEST} cannot be read (${(error as Error).message}).`,
    );
  }
  let manifest: Partial<BackupManifest>;
  try {
    manifest = JSON.parse(text) as Partial<BackupManifest>;
  } catch {
    throw new BackupError(`The backup's ${MANIFEST} is not JSON: the backup is damaged.`);
  }
  if (manifest.format !== MANIFEST_FORMAT) {
    throw new BackupError(`${path.join(source, MANIFEST)} is not the manifest of a Skyvault backup.`);
  }
  if (manifest.version !== MANIFEST_VERSION) {
    throw new BackupError(
      `This backup's format is version ${String(manifest.version)}, which Skyvault ${VERSION} does not know (it reads version ${MANIFEST_VERSION}).`,
    );
  }
  return {
    format: manifest.format,
    version: manifest.version,
    skyvault: String(manifest.skyvault),
    createdAt: String(manifest.createdAt),
    database: manifest.database ?? null,
    objects: manifest.objects ?? null,
    secretKey: manifest.secretKey ?? null,
  };
}

/**
 * Everything the manifest lists, there and whole: each database passes SQLite's quick_check, the index
 * holds as many objects as the manifest says, and every blob it names is in the backup with its size.
 * Returns those blobs. Reads only.
 */
async function verifyBackup(source: string, manifest: BackupManifest): Promise<BlobRef[]> {
  const damaged = (what: string) =>
    new BackupError(`The backup in ${source} is damaged: ${what}; nothing was changed.`);
  if (manifest.database) checkDatabase(path.join(source, 'skyvault.db'), manifest.database.bytes, damaged);
  if (manifest.secretKey && !existsSync(path.join(source, 'secret.key')))
    throw damaged('secret.key is missing');
  if (!manifest.objects) return [];
  const indexFile = path.join(source, 'objects', 'index.db');
  checkDatabase(indexFile, manifest.objects.indexBytes, damaged);
  const db = new BetterSqlite3(indexFile, { readonly: true, fileMustExist: true });
  let blobs: BlobRef[];
  try {
    const { n } = db.prepare('SELECT count(*) AS n FROM objects').get() as { n: number };
    if (n !== manifest.objects.objects) {
      throw damaged(`its index holds ${n} objects, its manifest says ${manifest.objects.objects}`);
    }
    blobs = referencedBlobs(db);
  } finally {
    db.close();
  }
  if (blobs.length !== manifest.objects.blobs) {
    throw damaged(`its index names ${blobs.length} blob files, its manifest says ${manifest.objects.blobs}`);
  }
  const blobDir = path.join(source, 'objects', 'blobs');
  let next = 0;
  const worker = async () => {
    while (next < blobs.length) {
      const blob = blobs[next++]!;
      const file = blobPath(blobDir, blob.id);
      const size = await stat(file).then(
        (s) => s.size,
        () => undefined,
      );
      if (size === undefined) throw damaged(`the blob file ${path.relative(source, file)} is missing`);
      if (size !== blob.size) {
        throw damaged(`the blob file ${path.relative(source, file)} has ${size} bytes, not ${blob.size}`);
      }
    }
  };
  await Promise.all(Array.from({ length: COPY_CONCURRENCY }, worker));
  return blobs;
}

function checkDatabase(file: string, bytes: number, damaged: (what: string) => BackupError): void {
  const name = path.basename(path.dirname(file)) === 'objects' ? 'objects/index.db' : path.basename(file);
  const size = existsSync(file) ? statSync(file).size : undefined;
  if (size === undefined) throw damaged(`${name} is missing`);
  if (size !== bytes) throw damaged(`${name} has ${size} bytes, not ${bytes}`);
  let result: string;
  try {
    const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    try {
      result = String(db.pragma('quick_check', { simple: true }));
    } finally {
      db.close();
    }
  } catch (error) {
    throw damaged(`${name} cannot be read (${(error as Error).message})`);
  }
  if (result !== 'ok') throw damaged(`${name} fails SQLite's check (${result})`);
}

/**
 * Whether another process has this SQLite database open. Skyvault keeps its databases (skyvault.db,
 * objects/index.db) open in WAL mode from start to stop, and a WAL connection holds a shared lock on the
 * database file for as long as it is open, idle or not. A connection in EXCLUSIVE locking mode needs an
 * exclusive lock for its first read, so that read fails at once (SQLITE_BUSY, no waiting) while any
 * other connection is open, and succeeds when none is. The locks are the operating system's: they end
 * with their process, so a crashed Skyvault does not count as running. A missing file is not open.
 */
function isOpenElsewhere(file: string): boolean {
  if (!existsSync(file)) return false;
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(file, { fileMustExist: true, timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw new BackupError(
      `${file} cannot be opened to check it is not in use (${(error as Error).message}).`,
    );
  } finally {
    db?.close();
  }
}

// ---------------------------------------------------------------------------------------------------

function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

function linkedNote(linked: number, blobs: number): string {
  if (linked === 0) return '';
  return linked === blobs ? ', hard-linked' : `, ${linked} hard-linked`;
}

function joinList(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
