/**
 * Moving the embedded store into a cloud bucket (`skyvault storage migrate`, docs/storage.md): copies
 * every object of `<data dir>/objects` to a StorageProvider, N at a time, and never deletes anything.
 *
 * Reading the source while Skyvault may be running. `EmbeddedStoreReader` reads the store's files
 * directly, opening `index.db` read-only, and never opens an ObjectStore. An ObjectStore's constructor
 * empties tmp/, which would break the uploads in progress, and aborts stale multipart uploads. The
 * index is SQLite in WAL mode, so each query sees one committed state and never blocks or disturbs the
 * writer. Blob files are immutable. A blob is unlinked only after the index row that replaced or
 * deleted its object has committed. So if we read a row and then open its blob, we get exactly that
 * version's bytes: an open file stays readable after unlink. If the blob is already gone (ENOENT), the
 * object changed in between, and the copy starts again from the current row (SourceChangedError).
 * Listing goes page by page, one query each, rather than in one long read transaction, so the WAL can
 * still be checkpointed. Objects written while a run is going may therefore be missed: a second run
 * with Skyvault stopped copies them.
 *
 * Verified before visible. Every byte read passes through SourceCheck, which counts it and hashes it
 * (MD5; for multipart objects, the S3 ETag over the part files). When the stream ends, SourceCheck
 * compares the result with the index row. A mismatch errors the stream, and a stream error aborts the
 * upload (a single PUT is never sent; a multipart upload is aborted). So a damaged or changed source
 * never becomes a target object.
 *
 * Already there (re-runs). An object counts as already in the target, and is skipped, when the target
 * has the same size and an ETag that matches the bytes. Three ETags match: the source's own; the MD5
 * of the bytes (a single PUT); or the multipart ETag of the bytes in TARGET_PART_SIZE parts (what
 * `put` sends for larger objects). The last two need the source's bytes when the source ETag cannot
 * tell. They are read and hashed locally, which costs a local read but no upload. Any other ETag (for
 * example SSE-KMS, whose ETags are not MD5s) is checked by reading the target object back and hashing
 * it. The target is listed alongside the source, so a re-run needs one LIST per 1,000 objects rather
 * than one HEAD per object.
 *
 * Same key, different bytes. The target object is replaced. The embedded store is what Skyvault's
 * database describes, so the source is the truth; the run counts these as `replaced`. Do not run this
 * command after Skyvault has switched to the bucket: nothing new is written to the old store then.
 *
 * Verifying a copy. `put` returns the target's HEAD. Its size must match, and its content type where
 * the source has one. Its ETag must be one of the ETags above, computed over the bytes that were sent.
 * When it is none of them, the object is read back and its MD5 compared, so a bucket whose ETags are
 * not MD5s costs a download per object but is still checked.
 */
import { createHash, type Hash } from 'node:crypto';
import { chownSync, existsSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import BetterSqlite3 from 'better-sqlite3';
import { isAppError } from '../shared/app-error.ts';
import { blobPath, type ObjectRow, toInfo } from './local/object-store.ts';
import type { ObjectInfo, StorageProvider } from './provider.ts';

/** The part size `put` uses for a stream (lib-storage's default: 5 MiB parts, one PUT up to 5 MiB). */
export const TARGET_PART_SIZE = 5 * 1024 * 1024;
/** Objects per listing page, of the source and of the target. */
const PAGE_SIZE = 1000;
/** Attempts at copying one object that changes in the source while it is read. */
const SOURCE_CHANGE_ATTEMPTS = 3;
/** Failures kept in the result (the count is exact). */
const MAX_FAILURES_KEPT = 100;
/** Consecutive objects the target refuses as unavailable before the run stops. */
const UNAVAILABLE_STREAK_LIMIT = 10;

/** An object of the source, with what the index knows of its bytes. */
export interface SourceObject {
  key: string;
  size: number;
  /** Quoted S3 ETag: the MD5 of the bytes, or `"<md5 of part MD5s>-N"` for a multipart object. */
  etag: string;
  contentType: string;
  /** Epoch milliseconds. */
  lastModified: number;
  /** Sizes of the files the bytes are stored in, in order (one per part of a multipart object). */
  partSizes: number[];
}

/** What the migration reads: the embedded store (EmbeddedStoreReader), or a fake in tests. */
export interface MigrationSource {
  /** How many objects and bytes there are now (for progress: the count can change while a run goes). */
  totals(): Promise<{ objects: number; bytes: number }>;
  /** Objects in key order after `after` (S3 order: UTF-8 bytes), at most `limit`. */
  list(after: string | undefined, limit: number): Promise<SourceObject[]>;
  /**
   * The object's current version and its bytes, or undefined when it no longer exists. The body errors
   * with SourceChangedError when the object is replaced while it is read.
   */
  open(key: string): Promise<{ object: SourceObject; body: Readable } | undefined>;
  close(): void;
}

/** The object was replaced or deleted while it was being read: read it again. */
export class SourceChangedError extends Error {
  constructor(key: string) {
    super(`${key} changed in the embedded store while it was being read.`);
    this.name = 'SourceChangedError';
  }
}

/** A per-object problem this module found itself, already phrased for the operator. */
class CopyProblem extends Error {
  override readonly name = 'CopyProblem';
}

/**
 * The embedded store of a data dir, read-only, straight from disk (see the note at the top): the
 * `objects` table of object-store.ts, and its blob files (`blobPath`).
 */
export class EmbeddedStoreReader implements MigrationSource {
  private readonly db: BetterSqlite3.Database;

  private constructor(
    readonly root: string,
    db: BetterSqlite3.Database,
  ) {
    this.db = db;
  }

  /** The store in `root` (`<data dir>/objects`), or undefined when there is none. */
  static open(root: string): EmbeddedStoreReader | undefined {
    const file = path.join(root, 'index.db');
    if (!existsSync(file)) return undefined;
    const created = ['-wal', '-shm'].filter((suffix) => !existsSync(file + suffix));
    const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    try {
      const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'objects'").get();
      if (!table) {
        db.close();
        return undefined;
      }
    } catch (error) {
      db.close();
      throw error;
    }
    giveBack(file, created);
    return new EmbeddedStoreReader(root, db);
  }

  async totals(): Promise<{ objects: number; bytes: number }> {
    const row = this.db
      .prepare('SELECT COUNT(*) AS objects, COALESCE(SUM(size), 0) AS bytes FROM objects')
      .get() as { objects: number; bytes: number };
    return { objects: row.objects, bytes: row.bytes };
  }

  async list(after: string | undefined, limit: number): Promise<SourceObject[]> {
    const rows = (
      after === undefined
        ? this.db.prepare('SELECT * FROM objects ORDER BY key LIMIT ?').all(limit)
        : this.db.prepare('SELECT * FROM objects WHERE key > ? ORDER BY key LIMIT ?').all(after, limit)
    ) as ObjectRow[];
    return rows.map(toSourceObject);
  }

  async open(key: string): Promise<{ object: SourceObject; body: Readable } | undefined> {
    for (let attempt = 1; ; attempt++) {
      const row = this.db.prepare('SELECT * FROM objects WHERE key = ?').get(key) as ObjectRow | undefined;
      if (!row) return undefined;
      const object = toSourceObject(row);
      const blobs = JSON.parse(row.blobs) as { id: string; size: number }[];
      if (row.size === 0 || blobs.length === 0) return { object, body: Readable.from([]) };
      try {
        // Opened now: a later overwrite that unlinks the blob cannot change what this read returns.
        const first = await open(this.blobPath(blobs[0]!.id), 'r');
        const body = Readable.from(this.readBlobs(key, first, blobs.slice(1)));
        // A body destroyed before it is read never runs readBlobs, nor its `finally`.
        body.once('close', () => void first.close().catch(() => {}));
        return { object, body };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        if (attempt === SOURCE_CHANGE_ATTEMPTS) throw new SourceChangedError(key);
      }
    }
  }

  close(): void {
    this.db.close();
  }

  /**
   * The bytes of the first blob (already open) and then of the others, each opened when reached so a
   * multipart object holds one file at a time. If a later part is gone, the object was replaced
   * meanwhile: SourceChangedError, rather than a mix of two versions.
   */
  private async *readBlobs(key: string, first: FileHandle, rest: { id: string }[]): AsyncGenerator<Buffer> {
    let handle: FileHandle | undefined = first;
    try {
      for (let index = 0; ; index++) {
        for await (const chunk of handle.createReadStream({ autoClose: false })) yield chunk as Buffer;
        await handle.close();
        handle = undefined;
        const next = rest[index];
        if (!next) return;
        try {
          handle = await open(this.blobPath(next.id), 'r');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new SourceChangedError(key);
          throw error;
        }
      }
    } finally {
      await handle?.close();
    }
  }

  private blobPath(id: string): string {
    return blobPath(path.join(this.root, 'blobs'), id);
  }
}

function toSourceObject(row: ObjectRow): SourceObject {
  const blobs = JSON.parse(row.blobs) as { size: number }[];
  return { ...toInfo(row), partSizes: blobs.map((b) => b.size) };
}

/**
 * Opening a WAL database read-only creates its `-wal` and `-shm` files when Skyvault is stopped, and
 * leaves them. Root (sudo) would leave them owned by root, and Skyvault, running as its own user, could
 * then not open its store. So those files are given to the owner of index.db.
 */
function giveBack(file: string, created: string[]): void {
  if (process.getuid?.() !== 0 || created.length === 0) return;
  const { uid, gid } = statSync(file);
  for (const suffix of created) {
    if (existsSync(file + suffix)) chownSync(file + suffix, uid, gid);
  }
}

export interface MigrationOptions {
  /** Objects copied at once (default 4). */
  concurrency?: number;
  /** Compare with the target, copy nothing. */
  dryRun?: boolean;
  /** Stops the run: no new objects start, and copies in flight are cancelled (nothing partial is left). */
  signal?: AbortSignal;
  /** Called after each object, and every `progressIntervalMs` while copies run. */
  onProgress?: (progress: MigrationProgress) => void;
  /** Default 1000 ms. */
  progressIntervalMs?: number;
  now?: () => number;
}

export interface MigrationProgress {
  /** Objects and bytes in the source (grows if more are found than counted at the start). */
  total: { objects: number; bytes: number };
  /** Objects settled: copied, skipped, failed, vanished. */
  done: number;
  /** Copied to the target (in a dry run: would be copied), replacements included. */
  copied: number;
  /** Of `copied`: objects the target had under the same key with other bytes. */
  replaced: number;
  /** Already in the target with the same bytes. */
  skipped: number;
  failed: number;
  /** Deleted from the source after they were listed. */
  vanished: number;
  /** Bytes of the objects copied and skipped, plus the bytes sent so far for copies in flight. */
  bytesDone: number;
  /** Bytes sent to the target (in a dry run: that would be sent). */
  bytesCopied: number;
  elapsedMs: number;
}

export interface MigrationFailure {
  key: string;
  /** One sentence. */
  reason: string;
}

export interface MigrationResult extends MigrationProgress {
  dryRun: boolean;
  /** The first failures, in the order they happened (`failed` has the count). */
  failures: MigrationFailure[];
  /** The signal stopped the run. */
  aborted: boolean;
  /** Why the run stopped by itself before the end (the target stopped answering), if it did. */
  stoppedEarly: string | undefined;
}

type Outcome =
  | { kind: 'copied'; size: number; replaced: boolean }
  | { kind: 'skipped'; size: number }
  | { kind: 'vanished' };

/** Copies every object of `source` to `target` (see the note at the top of this file). */
export async function migrateObjects(
  source: MigrationSource,
  target: StorageProvider,
  options: MigrationOptions = {},
): Promise<MigrationResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const dryRun = options.dryRun === true;
  const { signal } = options;
  const totals = await source.totals();
  const state = {
    total: { ...totals },
    done: 0,
    copied: 0,
    replaced: 0,
    skipped: 0,
    failed: 0,
    vanished: 0,
    settledBytes: 0,
    copiedBytes: 0,
    inflightBytes: 0,
  };
  const failures: MigrationFailure[] = [];
  let stoppedEarly: string | undefined;
  let unavailableStreak = 0;
  let listedCount = 0;

  const progress = (): MigrationProgress => ({
    total: { objects: Math.max(state.total.objects, listedCount), bytes: state.total.bytes },
    done: state.done,
    copied: state.copied,
    replaced: state.replaced,
    skipped: state.skipped,
    failed: state.failed,
    vanished: state.vanished,
    bytesDone: state.settledBytes + state.inflightBytes,
    bytesCopied: state.copiedBytes + state.inflightBytes,
    elapsedMs: now() - started,
  });
  const report = () => options.onProgress?.(progress());
  const stopping = () => signal?.aborted === true || stoppedEarly !== undefined;

  // Copies in flight, cancelled together when the signal fires.
  const inflight = new Set<Readable>();
  const cancel = () => {
    for (const stream of inflight) stream.destroy(abortError());
  };
  signal?.addEventListener('abort', cancel, { once: true });

  const targetListing = new TargetListing(target);

  /** The source's objects, each with the target's listing entry (null: unknown, ask with HEAD). */
  async function* objects(): AsyncGenerator<{ object: SourceObject; listed: ObjectInfo | undefined | null }> {
    let after: string | undefined;
    for (;;) {
      const page = await source.list(after, PAGE_SIZE);
      if (page.length === 0) return;
      after = page.at(-1)!.key;
      listedCount += page.length;
      const known = await targetListing.upTo(after);
      for (const object of page) {
        if (stopping()) return;
        yield { object, listed: known ? known.get(object.key) : null };
      }
    }
  }

  /** Whether the target's object `info` holds the source object's bytes (or the object is gone). */
  async function sameInTarget(object: SourceObject, info: ObjectInfo): Promise<boolean | 'vanished'> {
    if (info.size !== object.size) return false;
    // Listings do not carry content types (''): only a HEAD's is compared.
    if (object.contentType && info.contentType && info.contentType !== object.contentType) return false;
    const etag = bareEtag(info.etag);
    if (etag === bareEtag(object.etag)) return true;
    const read = await hashSource(source, object.key, inflight);
    if (!read) return 'vanished';
    if (read.object.size !== info.size) return false;
    if (etag === read.md5 || etag === read.targetEtag) return true;
    const back = await hashTarget(target, object.key);
    return back?.size === read.object.size && back.md5 === read.md5;
  }

  async function copy(key: string, replacing: boolean): Promise<Outcome> {
    const opened = await source.open(key);
    if (!opened) return { kind: 'vanished' };
    const { object } = opened;
    let sent = 0;
    const check = new SourceCheck(object, (bytes) => {
      sent += bytes;
      state.inflightBytes += bytes;
    });
    const body = pipeline(opened.body, check, () => {});
    inflight.add(body);
    if (signal?.aborted) body.destroy(abortError());
    let info: ObjectInfo;
    try {
      info = await target.put(key, body, object.contentType ? { contentType: object.contentType } : {});
    } finally {
      inflight.delete(body);
      state.inflightBytes -= sent;
      body.destroy();
    }
    const digests = check.digests();
    if (info.size !== object.size) {
      throw new CopyProblem(`arrived in the target with ${info.size} bytes instead of ${object.size}.`);
    }
    if (object.contentType && info.contentType !== object.contentType) {
      throw new CopyProblem(
        `arrived in the target with the content type "${info.contentType}" instead of "${object.contentType}".`,
      );
    }
    const etag = bareEtag(info.etag);
    if (etag !== digests.md5 && etag !== digests.targetEtag && etag !== bareEtag(object.etag)) {
      // Not an ETag we can reproduce (e.g. SSE-KMS): compare the bytes themselves.
      const back = await hashTarget(target, key);
      if (!back || back.size !== object.size || back.md5 !== digests.md5) {
        throw new CopyProblem(
          `differs in the target after the copy (MD5 ${back?.md5 ?? 'none'}, expected ${digests.md5}).`,
        );
      }
    }
    return { kind: 'copied', size: object.size, replaced: replacing };
  }

  async function migrateOne(object: SourceObject, listing: ObjectInfo | undefined | null): Promise<Outcome> {
    const inTarget = listing === null ? await target.head(object.key) : listing;
    let replacing = false;
    if (inTarget) {
      const same = await sameInTarget(object, inTarget);
      if (same === 'vanished') return { kind: 'vanished' };
      if (same) return { kind: 'skipped', size: inTarget.size };
      replacing = true;
    }
    if (dryRun) return { kind: 'copied', size: object.size, replaced: replacing };
    for (let attempt = 1; ; attempt++) {
      try {
        return await copy(object.key, replacing);
      } catch (error) {
        const changed = causes(error).some((e) => e instanceof SourceChangedError);
        if (!changed || attempt === SOURCE_CHANGE_ATTEMPTS || stopping()) throw error;
      }
    }
  }

  function settle(outcome: Outcome) {
    state.done++;
    unavailableStreak = 0;
    switch (outcome.kind) {
      case 'copied':
        state.copied++;
        if (outcome.replaced) state.replaced++;
        state.settledBytes += outcome.size;
        state.copiedBytes += outcome.size;
        break;
      case 'skipped':
        state.skipped++;
        state.settledBytes += outcome.size;
        break;
      case 'vanished':
        state.vanished++;
        break;
    }
  }

  function fail(key: string, error: unknown) {
    state.done++;
    state.failed++;
    if (failures.length < MAX_FAILURES_KEPT) failures.push({ key, reason: reasonOf(error) });
    const unavailable = causes(error).some((e) => isAppError(e) && e.kind === 'StorageUnavailable');
    unavailableStreak = unavailable ? unavailableStreak + 1 : 0;
    if (unavailableStreak >= UNAVAILABLE_STREAK_LIMIT && !stoppedEarly) {
      stoppedEarly = `The target storage stopped answering: ${UNAVAILABLE_STREAK_LIMIT} objects in a row failed, so the run stopped; run it again once the storage answers.`;
    }
  }

  const iterator = objects();
  const worker = async () => {
    for (;;) {
      if (stopping()) return;
      const next = await iterator.next();
      if (next.done) return;
      const { object, listed: listing } = next.value;
      try {
        settle(await migrateOne(object, listing));
      } catch (error) {
        // A copy the signal cancelled is neither done nor failed: the next run copies it.
        if (!signal?.aborted) fail(object.key, error);
      }
      report();
    }
  };
  const ticker = setInterval(report, options.progressIntervalMs ?? 1000);
  ticker.unref();
  try {
    const concurrency = Math.max(1, options.concurrency ?? 4);
    // Workers never throw for one object; the source's listing can (then the others finish theirs).
    const ended = await Promise.allSettled(Array.from({ length: concurrency }, worker));
    const broken = ended.find((e) => e.status === 'rejected');
    if (broken) throw broken.reason;
  } finally {
    clearInterval(ticker);
    signal?.removeEventListener('abort', cancel);
    await iterator.return(undefined);
  }
  return { ...progress(), dryRun, failures, aborted: signal?.aborted === true, stoppedEarly };
}

/**
 * The target's objects, listed alongside the source's pages (both are in key order), so a re-run needs
 * one LIST per page rather than one HEAD per object. The listing's order is used only to decide how far
 * to list. A key it misses counts as absent, and is copied again, which is harmless. If LIST is refused,
 * `upTo` answers undefined and each object gets a HEAD.
 */
class TargetListing {
  private readonly known = new Map<string, ObjectInfo>();
  private cursor: string | undefined;
  private finished = false;
  private failed = false;

  constructor(private readonly target: StorageProvider) {}

  /** The target's objects with keys up to `last` (and some beyond), or undefined if LIST is refused. */
  async upTo(last: string): Promise<Map<string, ObjectInfo> | undefined> {
    if (this.failed) return undefined;
    try {
      while (!this.finished && (this.cursor === undefined || byteOrder(this.cursor, last) < 0)) {
        const page = await this.target.list('', {
          limit: PAGE_SIZE,
          ...(this.cursor !== undefined ? { after: this.cursor } : {}),
        });
        for (const object of page.objects) this.known.set(object.key, object);
        this.cursor = page.objects.at(-1)?.key ?? this.cursor;
        this.finished = page.nextAfter === undefined;
      }
    } catch {
      this.failed = true;
      this.known.clear();
      return undefined;
    }
    const answer = new Map(this.known);
    // What the next pages may still need is beyond `last`: forget the rest.
    for (const key of [...this.known.keys()]) {
      if (byteOrder(key, last) <= 0) this.known.delete(key);
    }
    return answer;
  }
}

/** S3 orders keys by their UTF-8 bytes (JavaScript's `<` compares UTF-16 units). */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** S3's multipart ETag of bytes split in parts: the MD5 of the parts' MD5s, then `-<parts>`. */
class MultipartEtag {
  private readonly digests: Buffer[] = [];
  private part: Hash = createHash('md5');
  private index = 0;
  private inPart = 0;
  private partSize: number;

  /** `partSize(i)` is the size of part i (0-based). */
  constructor(private readonly partSizeOf: (index: number) => number) {
    this.partSize = partSizeOf(0);
  }

  update(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.partSize - this.inPart, chunk.length - offset);
      this.part.update(chunk.subarray(offset, offset + take));
      offset += take;
      this.inPart += take;
      if (this.inPart === this.partSize) {
        this.digests.push(this.part.digest());
        this.part = createHash('md5');
        this.inPart = 0;
        this.partSize = this.partSizeOf(++this.index);
      }
    }
  }

  /** Call once, after the last byte. */
  etag(): string {
    if (this.inPart > 0) this.digests.push(this.part.digest());
    const md5 = createHash('md5').update(Buffer.concat(this.digests)).digest('hex');
    return `${md5}-${this.digests.length}`;
  }
}

interface Digests {
  md5: string;
  /** The ETag the target gives these bytes when `put` sends them in TARGET_PART_SIZE parts. */
  targetEtag: string;
}

/**
 * Passes the source's bytes on while it hashes them, and checks them against the index when they end.
 * On a mismatch the stream errors, so the upload it feeds is abandoned.
 */
class SourceCheck extends Transform {
  private bytes = 0;
  private readonly md5 = createHash('md5');
  private readonly sourceEtag: MultipartEtag | undefined;
  private readonly targetEtag = new MultipartEtag(() => TARGET_PART_SIZE);
  private result: Digests | undefined;

  constructor(
    private readonly object: SourceObject,
    private readonly onBytes: (bytes: number) => void,
  ) {
    super();
    const sizes = object.partSizes;
    this.sourceEtag = isMultipartEtag(object.etag)
      ? new MultipartEtag((index) => sizes[index] ?? Number.MAX_SAFE_INTEGER)
      : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.object.size) {
      callback(this.damaged(`more than the ${this.object.size} bytes its index entry says`));
      return;
    }
    this.md5.update(chunk);
    this.sourceEtag?.update(chunk);
    this.targetEtag.update(chunk);
    this.onBytes(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const md5 = this.md5.digest('hex');
    const expected = bareEtag(this.object.etag);
    const actual = this.sourceEtag ? this.sourceEtag.etag() : md5;
    if (this.bytes !== this.object.size) {
      callback(this.damaged(`${this.bytes} bytes where its index entry says ${this.object.size}`));
    } else if (/^[0-9a-f]{32}(-\d+)?$/.test(expected) && actual !== expected) {
      callback(this.damaged(`bytes whose ETag is ${actual} where its index entry says ${expected}`));
    } else {
      this.result = { md5, targetEtag: this.targetEtag.etag() };
      callback();
    }
  }

  /** The digests of the bytes that went through; only once the stream has ended without error. */
  digests(): Digests {
    if (!this.result) throw new Error('SourceCheck.digests() before the end of the stream');
    return this.result;
  }

  private damaged(what: string): CopyProblem {
    return new CopyProblem(
      `has ${what} in the embedded store (a damaged or missing blob file under objects/blobs), so it was not copied.`,
    );
  }
}

/** Reads the source object through SourceCheck; undefined when it no longer exists. */
async function hashSource(
  source: MigrationSource,
  key: string,
  inflight: Set<Readable>,
): Promise<(Digests & { object: SourceObject }) | undefined> {
  for (let attempt = 1; ; attempt++) {
    const opened = await source.open(key);
    if (!opened) return undefined;
    const check = new SourceCheck(opened.object, () => {});
    const body = pipeline(opened.body, check, () => {});
    inflight.add(body);
    try {
      await pipelineAsync(body, discard());
      return { ...check.digests(), object: opened.object };
    } catch (error) {
      if (!(error instanceof SourceChangedError) || attempt === SOURCE_CHANGE_ATTEMPTS) throw error;
    } finally {
      inflight.delete(body);
    }
  }
}

/** The size and MD5 of the target's object, read back; undefined when it does not exist. */
async function hashTarget(
  target: StorageProvider,
  key: string,
): Promise<{ size: number; md5: string } | undefined> {
  const found = await target.get(key);
  if (!found) return undefined;
  const md5 = createHash('md5');
  let size = 0;
  await pipelineAsync(
    found.body,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        md5.update(chunk);
        callback();
      },
    }),
  );
  return { size, md5: md5.digest('hex') };
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}

function bareEtag(etag: string): string {
  return etag.replace(/^"|"$/g, '').toLowerCase();
}

function isMultipartEtag(etag: string): boolean {
  return /^[0-9a-f]{32}-\d+$/.test(bareEtag(etag));
}

function abortError(): Error {
  return Object.assign(new Error('The migration was stopped.'), { name: 'AbortError' });
}

/** The error and its causes, outermost first. */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 8;) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return chain;
}

/**
 * What happened to a failed object, as the rest of a sentence that starts with its key: ours as
 * phrased, else the error and its innermost cause.
 */
function reasonOf(error: unknown): string {
  const chain = causes(error);
  const ours = chain.find((e) => e instanceof CopyProblem);
  if (ours) return (ours as Error).message;
  if (chain.some((e) => e instanceof SourceChangedError)) {
    return 'kept changing in the embedded store while it was being read: run again to copy its latest version.';
  }
  const outer = describeError(chain[0]);
  const inner = chain.length > 1 ? describeError(chain.at(-1)) : '';
  const text = inner && inner !== outer ? `${outer.replace(/\.$/, '')} (${inner})` : outer;
  return `failed: ${text.replace(/\.?$/, '.')}`;
}

function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: unknown };
  const text = [e.name && !['Error', 'AppError'].includes(e.name) ? e.name : undefined, e.message]
    .filter(Boolean)
    .join(': ');
  // Node's and SQLite's codes (ECONNRESET, SQLITE_BUSY); AppError's numeric envelope codes say nothing here.
  const withCode = typeof e.code === 'string' && !text.includes(e.code) ? `${text} (${e.code})` : text;
  return withCode || String(error);
}
