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
 * The store is owned by one process.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import BetterSqlite3 from 'better-sqlite3';
import type { ByteRange, ObjectInfo } from '../provider.ts';

interface BlobRef {
  id: string;
  size: number;
}

interface ObjectRow {
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
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS objects (
        key TEXT PRIMARY KEY, size INTEGER NOT NULL, etag TEXT NOT NULL, content_type TEXT NOT NULL,
        last_modified INTEGER NOT NULL, blobs TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS uploads (
        upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, content_type TEXT NOT NULL, initiated INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS uploads_key ON uploads (key, initiated);
      CREATE TABLE IF NOT EXISTS parts (
        upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
        blob TEXT NOT NULL, last_modified INTEGER NOT NULL, PRIMARY KEY (upload_id, part_number));
    `);
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
    const old = this.statement('DELETE FROM objects WHERE key = ? RETURNING blobs').get(key) as
      { blobs: string } | undefined;
    if (old) this.discard(JSON.parse(old.blobs) as BlobRef[]);
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
    const replaced = this.db.transaction(() => {
      if (!this.upload(uploadId)) return undefined;
      const old = this.db
        .prepare('SELECT blob, size FROM parts WHERE upload_id = ? AND part_number = ?')
        .get(uploadId, partNumber) as { blob: string; size: number } | undefined;
      this.db
        .prepare(
          'INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, blob, last_modified) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(uploadId, partNumber, part.size, part.etag, part.blob, part.last_modified);
      return { old };
    })();
    if (!replaced) {
      this.discard([blob]);
      return undefined;
    }
    if (replaced.old) this.discard([{ id: replaced.old.blob, size: replaced.old.size }]);
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
    const result = this.db.transaction(() => {
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
      return { info: toInfo(row), discard: [...replaced, ...unused] };
    })();
    if (!result) return undefined;
    this.discard(result.discard);
    return result.info;
  }

  async abortUpload(uploadId: string): Promise<boolean> {
    const parts = this.db.transaction(() => {
      if (!this.upload(uploadId)) return undefined;
      const rows = this.parts(uploadId);
      this.statement('DELETE FROM parts WHERE upload_id = ?').run(uploadId);
      this.statement('DELETE FROM uploads WHERE upload_id = ?').run(uploadId);
      return rows;
    })();
    if (!parts) return false;
    this.discard(parts.map((p) => ({ id: p.blob, size: p.size })));
    return true;
  }

  close(): void {
    this.db.close();
  }

  private replaceObject(row: ObjectRow): void {
    const replaced = this.db.transaction(() => this.replaceObjectRow(row))();
    this.discard(replaced);
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
    return path.join(this.blobDir, id.slice(0, 2), id);
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

function toInfo(row: ObjectRow): ObjectInfo {
  return {
    key: row.key,
    size: row.size,
    etag: row.etag,
    contentType: row.content_type,
    lastModified: row.last_modified,
  };
}
