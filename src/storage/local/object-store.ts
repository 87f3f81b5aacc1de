/**
 * The embedded store's disk layout: object bytes in immutable blob files, and an index (SQLite, in the
 * same directory) that maps each key to its blobs, size, ETag and content type.
 *
 *   <root>/index.db        objects, multipart uploads and their parts
 *   <root>/blobs/ab/<id>   bytes, written once, never modified
 *   <root>/tmp/<id>        uploads in progress (removed at start)
 *
 * An upload streams to tmp/, is verified, renamed into blobs/, and becomes visible only when its index
 * row is committed: a killed upload leaves no partial object. The index is the only mutable state and
 * every change is one synchronous SQLite transaction, so concurrent uploads to one key cannot interleave:
 * the last commit wins and removes the blobs it replaced. A completed multipart object simply lists its
 * parts' blobs (nothing is copied); reads stream them in order. Keys are stored as given (no filesystem
 * naming rules apply to them) and SQLite's binary collation orders them as S3 does (UTF-8 byte order).
 * The store is owned by one process; `skyvault backup` (src/backup.ts) reads it from another.
 *
 * Backups while the store runs: a backup snapshots index.db (SQLite's online backup API), then copies
 * the blobs the snapshot names. None of them may vanish in between, so the backup first commits a hold
 * (backup_holds), and every transaction that stops referencing blobs (overwrite, delete, part replaced,
 * upload aborted) looks for a live hold inside itself: with one, the blobs are recorded in
 * released_blobs instead of being unlinked. Write transactions are serialized (all are BEGIN IMMEDIATE,
 * so none reads a state older than the hold), hence one that committed before the hold is already in
 * the snapshot, which then does not name its old blobs, and one that commits after it sees the hold.
 * Released blobs are unlinked when the last hold ends, by the backup itself, or by the orphan sweep
 * (orphan-sweep.ts) once a crashed backup's hold has expired.
 *
 * Orphans: a crash between a blob's rename into blobs/ and its index commit leaves a file nothing
 * references; the sweep that runs after start removes such files once they are old enough.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import type { ByteRange, ObjectInfo } from '../provider.ts';
import { type SweepResult, sweepOrphanBlobs } from './orphan-sweep.ts';

export interface BlobRef {
  id: string;
  size: number;
}

/** A row of the `objects` table of index.db (migrate.ts reads it too). */
export interface ObjectRow {
  key: string;
  size: number;
  etag: string;
  content_type: string;
  last_modified: number;
  blobs: string;
}

export interface UploadRow {
  upload_id: string;
  key: string;
  content_type: string;
  initiated: number;
}

export interface PartRow {
  part_number: number;
  size: number;
  etag: string;
  blob: string;
  last_modified: number;
}

/** A verified file in tmp/ ready to become an object or a part. */
export interface StagedBlob {
  tmpPath: string;
  size: number;
  md5Hex: string;
}

export const MAX_PARTS = 10_000;
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Multipart uploads older than this are aborted when the store opens. */
const STALE_UPLOAD_MS = 7 * 24 * 3600 * 1000;
/** A backup's hold lasts this long unless renewed, so a crashed backup's ends by itself. */
export const HOLD_TTL_MS = 10 * 60_000;
/** Rows read at once when the sweep collects the referenced blobs (the server keeps serving between). */
const SWEEP_PAGE_ROWS = 2000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY, size INTEGER NOT NULL, etag TEXT NOT NULL, content_type TEXT NOT NULL,
    last_modified INTEGER NOT NULL, blobs TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, content_type TEXT NOT NULL, initiated INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS uploads_key ON uploads (key, initiated);
  CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    blob TEXT NOT NULL, last_modified INTEGER NOT NULL, PRIMARY KEY (upload_id, part_number));
  CREATE TABLE IF NOT EXISTS backup_holds (id TEXT PRIMARY KEY, expires INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS released_blobs (
    id TEXT PRIMARY KEY, size INTEGER NOT NULL, released INTEGER NOT NULL);
`;

export class ObjectStore {
  private readonly db: BetterSqlite3.Database;
  readonly tmpDir: string;
  private readonly blobDir: string;

  constructor(readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    this.blobDir = path.join(root, 'blobs');
    rmSync(this.tmpDir, { recursive: true, force: true });
    mkdirSync(this.tmpDir, { recursive: true });
    mkdirSync(this.blobDir, { recursive: true });
    this.db = new BetterSqlite3(path.join(root, 'index.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const stale = this.db
      .prepare('SELECT upload_id FROM uploads WHERE initiated < ?')
      .all(Date.now() - STALE_UPLOAD_MS) as { upload_id: string }[];
    for (const { upload_id } of stale) void this.abortUpload(upload_id);
  }

  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  /** Statements are prepared once: preparing costs more than running these small queries. */
  private statement(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** A fresh path in tmp/ for an upload in progress. */
  tmpPath(): string {
    return path.join(this.tmpDir, randomUUID());
  }

  head(key: string): ObjectInfo | undefined {
    const row = this.statement('SELECT * FROM objects WHERE key = ?').get(key) as ObjectRow | undefined;
    return row && toInfo(row);
  }

  /** Stages' bytes become the object `key`, replacing any previous version. */
  async putObject(key: string, staged: StagedBlob, contentType: string, now: number): Promise<ObjectInfo> {
    const blob = await this.adopt(staged);
    const row: ObjectRow = {
      key,
      size: staged.size,
      etag: `"${staged.md5Hex}"`,
      content_type: contentType,
      last_modified: now,
      blobs: JSON.stringify([blob]),
    };
    this.replaceObject(row);
    return toInfo(row);
  }

  /** Streams the object (or a byte range of it); undefined when it does not exist. */
  async read(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable } | undefined> {
    for (let attempt = 0; ; attempt++) {
      const row = this.statement('SELECT * FROM objects WHERE key = ?').get(key) as ObjectRow | undefined;
      if (!row) return undefined;
      const info = toInfo(row);
      const blobs = JSON.parse(row.blobs) as BlobRef[];
      const start = range?.start ?? 0;
      const end = range?.end ?? row.size - 1;
      if (row.size === 0) return { info, body: Readable.from([]) };
      if (blobs.length > 1) return { info, body: this.readParts(blobs, start, end) };
      try {
        // Opened now, so a concurrent overwrite that unlinks the blob cannot break this read.
        const handle = await open(this.blobPath(blobs[0]!.id), 'r');
        return { info, body: handle.createReadStream({ start, end }) };
      } catch (error) {
        // Overwritten between the lookup and the open: read the new version.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw error;
      }
    }
  }

  deleteObject(key: string): void {
    const released = this.db
      .transaction(() => {
        const old = this.statement('DELETE FROM objects WHERE key = ? RETURNING blobs').get(key) as
          { blobs: string } | undefined;
        return old ? this.release(JSON.parse(old.blobs) as BlobRef[]) : [];
      })
      .immediate();
    this.discard(released);
  }

  /** Objects whose key starts with `prefix`, in key order, after `after`, up to `limit`. */
  *iterate(prefix: string, after: string | undefined): Generator<ObjectInfo> {
    const from = after !== undefined && after >= prefix ? after : undefined;
    const statement =
      from === undefined
        ? this.statement('SELECT * FROM objects WHERE key >= ? ORDER BY key')
        : this.statement('SELECT * FROM objects WHERE key > ? ORDER BY key');
    for (const row of statement.iterate(from ?? prefix) as IterableIterator<ObjectRow>) {
      if (!row.key.startsWith(prefix)) return;
      yield toInfo(row);
    }
  }

  createUpload(key: string, contentType: string, now: number): string {
    const uploadId = randomBytes(24).toString('base64url');
    this.db
      .prepare('INSERT INTO uploads (upload_id, key, content_type, initiated) VALUES (?, ?, ?, ?)')
      .run(uploadId, key, contentType, now);
    return uploadId;
  }

  upload(uploadId: string): UploadRow | undefined {
    return this.statement('SELECT * FROM uploads WHERE upload_id = ?').get(uploadId) as UploadRow | undefined;
  }

  listUploads(prefix: string): UploadRow[] {
    return (
      this.db
        .prepare('SELECT * FROM uploads WHERE key >= ? ORDER BY key, initiated')
        .all(prefix) as UploadRow[]
    ).filter((u) => u.key.startsWith(prefix));
  }

  async putPart(
    uploadId: string,
    partNumber: number,
    staged: StagedBlob,
    now: number,
  ): Promise<PartRow | undefined> {
    const blob = await this.adopt(staged);
    const part: PartRow = {
      part_number: partNumber,
      size: staged.size,
      etag: `"${staged.md5Hex}"`,
      blob: blob.id,
      last_modified: now,
    };
    const replaced = this.db
      .transaction(() => {
        if (!this.upload(uploadId)) return undefined;
        const old = this.db
          .prepare('SELECT blob, size FROM parts WHERE upload_id = ? AND part_number = ?')
          .get(uploadId, partNumber) as { blob: string; size: number } | undefined;
        this.db
          .prepare(
            'INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, blob, last_modified) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(uploadId, partNumber, part.size, part.etag, part.blob, part.last_modified);
        return { released: old ? this.release([{ id: old.blob, size: old.size }]) : [] };
      })
      .immediate();
    if (!replaced) {
      // Never referenced by any committed row: no backup can name it.
      this.discard([blob]);
      return undefined;
    }
    this.discard(replaced.released);
    return part;
  }

  parts(uploadId: string, afterPart = 0, limit = MAX_PARTS): PartRow[] {
    return this.db
      .prepare('SELECT * FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?')
      .all(uploadId, afterPart, limit) as PartRow[];
  }

  /**
   * Makes the listed parts (already validated by the caller) the object of the upload, in one
   * transaction; unlisted parts are discarded. Returns undefined if the upload vanished meanwhile.
   */
  completeUpload(uploadId: string, chosen: PartRow[], etag: string, now: number): ObjectInfo | undefined {
    const result = this.db
      .transaction(() => {
        const upload = this.upload(uploadId);
        if (!upload) return undefined;
        const all = this.parts(uploadId);
        const keep = new Set(chosen.map((p) => p.blob));
        const row: ObjectRow = {
          key: upload.key,
          size: chosen.reduce((sum, p) => sum + p.size, 0),
          etag,
          content_type: upload.content_type,
          last_modified: now,
          blobs: JSON.stringify(chosen.map((p) => ({ id: p.blob, size: p.size }))),
        };
        const replaced = this.replaceObjectRow(row);
        this.statement('DELETE FROM parts WHERE upload_id = ?').run(uploadId);
        this.statement('DELETE FROM uploads WHERE upload_id = ?').run(uploadId);
        const unused = all.filter((p) => !keep.has(p.blob)).map((p) => ({ id: p.blob, size: p.size }));
        return { info: toInfo(row), discard: this.release([...replaced, ...unused]) };
      })
      .immediate();
    if (!result) return undefined;
    this.discard(result.discard);
    return result.info;
  }

  async abortUpload(uploadId: string): Promise<boolean> {
    const released = this.db
      .transaction(() => {
        if (!this.upload(uploadId)) return undefined;
        const rows = this.parts(uploadId);
        this.statement('DELETE FROM parts WHERE upload_id = ?').run(uploadId);
        this.statement('DELETE FROM uploads WHERE upload_id = ?').run(uploadId);
        return this.release(rows.map((p) => ({ id: p.blob, size: p.size })));
      })
      .immediate();
    if (!released) return false;
    this.discard(released);
    return true;
  }

  /**
   * Removes blob files no index row references (a crash between a blob's rename and its commit) whose
   * modification time is older than `olderThanMs`, and the blobs released while backups held them once
   * no backup does. Yields to the event loop as it goes; `signal` stops it between files.
   */
  async sweepOrphans(options: { olderThanMs: number; signal?: AbortSignal }): Promise<SweepResult> {
    const started = Date.now();
    const released = await unlinkBlobs(this.blobDir, takeReleased(this.db, started));
    const swept = await sweepOrphanBlobs({
      blobDir: this.blobDir,
      referenced: this.referencedBlobIds(options.signal),
      cutoff: started - options.olderThanMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { files: released.files + swept.files, bytes: released.bytes + swept.bytes };
  }

  /**
   * Every blob id the index references, read a page at a time. The order (parts, then objects, then
   * released blobs) follows the only ways a blob moves between them (a completed upload's parts become
   * its object's blobs; replaced ones become released), so a blob that moves while the pages are read
   * is met in its later place; blobs committed after the start are younger than any sweep cutoff.
   */
  private async *referencedBlobIds(signal: AbortSignal | undefined): AsyncGenerator<string> {
    let part: { upload_id: string; part_number: number } | undefined;
    for (;;) {
      const rows = (
        part
          ? this.statement(
              'SELECT upload_id, part_number, blob FROM parts WHERE (upload_id, part_number) > (?, ?) ORDER BY upload_id, part_number LIMIT ?',
            ).all(part.upload_id, part.part_number, SWEEP_PAGE_ROWS)
          : this.statement(
              'SELECT upload_id, part_number, blob FROM parts ORDER BY upload_id, part_number LIMIT ?',
            ).all(SWEEP_PAGE_ROWS)
      ) as { upload_id: string; part_number: number; blob: string }[];
      for (const row of rows) yield row.blob;
      part = rows.at(-1);
      if (rows.length < SWEEP_PAGE_ROWS) break;
      await yieldToEventLoop(signal);
    }
    let key: string | undefined;
    for (;;) {
      const rows = (
        key === undefined
          ? this.statement('SELECT key, blobs FROM objects ORDER BY key LIMIT ?').all(SWEEP_PAGE_ROWS)
          : this.statement('SELECT key, blobs FROM objects WHERE key > ? ORDER BY key LIMIT ?').all(
              key,
              SWEEP_PAGE_ROWS,
            )
      ) as { key: string; blobs: string }[];
      for (const row of rows) for (const blob of JSON.parse(row.blobs) as BlobRef[]) yield blob.id;
      key = rows.at(-1)?.key;
      if (rows.length < SWEEP_PAGE_ROWS) break;
      await yieldToEventLoop(signal);
    }
    for (const row of this.statement('SELECT id FROM released_blobs').all() as { id: string }[]) yield row.id;
  }

  close(): void {
    this.db.close();
  }

  private replaceObject(row: ObjectRow): void {
    const released = this.db.transaction(() => this.release(this.replaceObjectRow(row))).immediate();
    this.discard(released);
  }

  /**
   * Blobs that no row references any more, called in the transaction that dropped them: the ones to
   * unlink now, or none while a backup holds the store (they are recorded to be unlinked later).
   */
  private release(blobs: BlobRef[]): BlobRef[] {
    if (blobs.length === 0) return blobs;
    const now = Date.now();
    if (!this.statement('SELECT 1 FROM backup_holds WHERE expires > ? LIMIT 1').get(now)) return blobs;
    const record = this.statement(
      'INSERT OR IGNORE INTO released_blobs (id, size, released) VALUES (?, ?, ?)',
    );
    for (const blob of blobs) record.run(blob.id, blob.size, now);
    return [];
  }

  /** Upserts the row; returns the blobs of the version it replaced. Call inside a transaction. */
  private replaceObjectRow(row: ObjectRow): BlobRef[] {
    const old = this.statement('SELECT blobs FROM objects WHERE key = ?').get(row.key) as
      { blobs: string } | undefined;
    this.db
      .prepare(
        'INSERT OR REPLACE INTO objects (key, size, etag, content_type, last_modified, blobs) VALUES (@key, @size, @etag, @content_type, @last_modified, @blobs)',
      )
      .run(row);
    return old ? (JSON.parse(old.blobs) as BlobRef[]) : [];
  }

  /** Moves a verified tmp file into blobs/. */
  private async adopt(staged: StagedBlob): Promise<BlobRef> {
    const id = randomUUID();
    const target = this.blobPath(id);
    await mkdir(path.dirname(target), { recursive: true });
    await rename(staged.tmpPath, target);
    return { id, size: staged.size };
  }

  private discard(blobs: BlobRef[]): void {
    for (const blob of blobs) unlink(this.blobPath(blob.id)).catch(() => {});
  }

  private blobPath(id: string): string {
    return blobPath(this.blobDir, id);
  }

  /** Streams bytes start..end (inclusive) of the concatenation of `blobs`, opening one file at a time. */
  private readParts(blobs: BlobRef[], start: number, end: number): Readable {
    const out = new PassThrough();
    void (async () => {
      let offset = 0;
      for (const blob of blobs) {
        const blobStart = offset;
        const blobEnd = offset + blob.size - 1;
        offset += blob.size;
        if (blobEnd < start || blob.size === 0) continue;
        if (blobStart > end) break;
        const from = Math.max(start, blobStart) - blobStart;
        const to = Math.min(end, blobEnd) - blobStart;
        const source = createReadStream(this.blobPath(blob.id), { start: from, end: to });
        for await (const chunk of source) {
          if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
          if (out.destroyed) return;
        }
      }
      out.end();
    })().catch((error: unknown) => out.destroy(error as Error));
    return out;
  }
}

/** An index row as the store describes it (migrate.ts reads rows too). */
export function toInfo(row: ObjectRow): ObjectInfo {
  return {
    key: row.key,
    size: row.size,
    etag: row.etag,
    contentType: row.content_type,
    lastModified: row.last_modified,
  };
}

/** Where the blob `id` lives under `blobDir` (`<root>/blobs`). */
export function blobPath(blobDir: string, id: string): string {
  return path.join(blobDir, id.slice(0, 2), id);
}

function yieldToEventLoop(signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * In a transaction: when no backup holds the store any more, forgets the ended holds and the blobs
 * released meanwhile, and returns those blobs (to unlink); nothing while a hold is live.
 */
function takeReleased(db: BetterSqlite3.Database, now: number): BlobRef[] {
  return db
    .transaction(() => {
      if (db.prepare('SELECT 1 FROM backup_holds WHERE expires > ? LIMIT 1').get(now)) return [];
      db.prepare('DELETE FROM backup_holds').run();
      return db.prepare('DELETE FROM released_blobs RETURNING id, size').all() as BlobRef[];
    })
    .immediate();
}

async function unlinkBlobs(blobDir: string, blobs: BlobRef[]): Promise<SweepResult> {
  let files = 0;
  let bytes = 0;
  for (const blob of blobs) {
    try {
      await unlink(blobPath(blobDir, blob.id));
      files++;
      bytes += blob.size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return { files, bytes };
}

/**
 * The store's index opened by another process (`skyvault backup`) while Skyvault may be running: the
 * hold that keeps the blobs a snapshot names on disk (see the top of this file), and the blobs a
 * snapshot names. Never empties tmp/ or aborts uploads, as opening an ObjectStore does.
 */
export class StoreIndex {
  readonly blobDir: string;
  private readonly db: BetterSqlite3.Database;

  /** Throws (SQLITE_CANTOPEN) when `<root>/index.db` does not exist. */
  constructor(readonly root: string) {
    this.blobDir = path.join(root, 'blobs');
    this.db = new BetterSqlite3(path.join(root, 'index.db'), { fileMustExist: true, timeout: 10_000 });
    this.db.exec(SCHEMA);
  }

  get connection(): BetterSqlite3.Database {
    return this.db;
  }

  /** Commits a hold until `now + HOLD_TTL_MS`; returns its id. */
  addHold(now = Date.now()): string {
    const id = randomUUID();
    this.db.prepare('INSERT INTO backup_holds (id, expires) VALUES (?, ?)').run(id, now + HOLD_TTL_MS);
    return id;
  }

  /** Extends the hold; false when it has expired (the store may have unlinked blobs meanwhile). */
  renewHold(id: string, now = Date.now()): boolean {
    return (
      this.db
        .prepare('UPDATE backup_holds SET expires = ? WHERE id = ? AND expires > ?')
        .run(now + HOLD_TTL_MS, id, now).changes === 1
    );
  }

  /** Ends the hold; when it was the last one, unlinks the blobs released while the store was held. */
  async endHold(id: string, now = Date.now()): Promise<SweepResult> {
    this.db.prepare('DELETE FROM backup_holds WHERE id = ?').run(id);
    return unlinkBlobs(this.blobDir, takeReleased(this.db, now));
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The blobs an index (a live one or a snapshot) references: objects' and in-progress uploads' parts,
 * each once, with the size the index records.
 */
export function referencedBlobs(db: BetterSqlite3.Database): BlobRef[] {
  const blobs = new Map<string, number>();
  for (const row of db.prepare('SELECT blobs FROM objects').iterate() as IterableIterator<{
    blobs: string;
  }>) {
    for (const blob of JSON.parse(row.blobs) as BlobRef[]) blobs.set(blob.id, blob.size);
  }
  for (const row of db.prepare('SELECT blob, size FROM parts').iterate() as IterableIterator<{
    blob: string;
    size: number;
  }>) {
    blobs.set(row.blob, row.size);
  }
  return [...blobs].map(([id, size]) => ({ id, size }));
}
