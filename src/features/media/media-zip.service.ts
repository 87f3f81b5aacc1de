/**
 * Many files of the library as one zip, streamed: the web library's "download selected". Objects are
 * read from storage one at a time and stored uncompressed (media is already compressed), so a download
 * costs the server a few megabytes of buffers whatever its size, and the browser gets bytes at once.
 *
 * A zip is only useful whole: when a file cannot be read, the download is aborted (the caller destroys
 * the connection) rather than ended, so the browser reports a failed download instead of saving a
 * truncated archive that looks valid.
 */
import type { Readable } from 'node:stream';
import type { ZipArchive } from 'archiver';
import { AppError } from '../../shared/app-error.ts';
import type { Logger } from '../../shared/logger.ts';
import type { StorageProvider } from '../../storage/provider.ts';
import { normalizeCaptureTime } from './capture-time.ts';
import type { MediaZipRepo, ZipFileRow } from './media-zip.repo.ts';

/** Most files one zip may hold: one request's worth of ids, and a bound on the names kept in memory. */
export const MAX_ZIP_FILES = 10_000;

export interface MediaZipOptions {
  repo: MediaZipRepo;
  storage: StorageProvider;
  logger: Logger;
}

export interface ZipDownload {
  /** Files in the archive (the ids asked for, without repeats). */
  fileCount: number;
  /** Sum of the files' sizes: what the browser's progress line counts up to (the zip adds a little). */
  mediaBytes: number;
  /**
   * The archive. It errors (and should be answered by destroying the connection) when a file cannot be
   * read; destroying it stops reading storage at once.
   */
  stream: Readable;
}

interface PlannedEntry {
  file: ZipFileRow;
  /** Unique within the archive, ignoring case. */
  name: string;
  date: Date;
}

export class MediaZipService {
  constructor(private readonly options: MediaZipOptions) {}

  /**
   * Checks that every id names a file of the workspace, then starts the archive of those files in the
   * order given (repeats dropped). Refuses, before any byte is sent, when an id is unknown: a zip that
   * silently lacks files would be found out only once it is unpacked.
   */
  async open(workspaceId: string, fileIds: readonly string[]): Promise<ZipDownload> {
    const ids = [...new Set(fileIds)];
    if (ids.length === 0 || ids.length > MAX_ZIP_FILES) {
      throw new AppError('BadRequest', `A zip holds 1 to ${MAX_ZIP_FILES} files; ${ids.length} were asked.`);
    }
    const rows = await this.options.repo.findManyByIds(workspaceId, ids);
    const byId = new Map(rows.map((row) => [row.id, row]));
    const unknown = ids.filter((id) => !byId.has(id));
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 10).join(', ');
      const more = unknown.length > 10 ? ` and ${unknown.length - 10} more` : '';
      throw new AppError(
        'MediaFileNotFound',
        `${unknown.length} of the files asked for ${unknown.length === 1 ? 'is' : 'are'} not in this workspace: ${shown}${more}. No zip was made.`,
        { details: { unknown_file_ids: unknown } },
      );
    }
    const names = new UniqueNames();
    const entries = ids.map((id): PlannedEntry => {
      const file = byId.get(id)!;
      return { file, name: names.claim(entryName(file.name)), date: entryDate(file) };
    });
    return {
      fileCount: entries.length,
      mediaBytes: entries.reduce((sum, entry) => sum + entry.file.size, 0),
      stream: this.stream(await lazyZipArchive(), workspaceId, entries),
    };
  }

  private stream(LazyZipArchive: LazyZip, workspaceId: string, entries: PlannedEntry[]): Readable {
    const { storage, logger } = this.options;
    // Store mode: media is already compressed, and deflating it would cost CPU for nothing. Zip64
    // records are added by the writer as soon as an offset or the entry count needs them.
    const archive = new LazyZipArchive({ store: true });
    let reading: Readable | undefined;
    let closed = false;
    // Destroyed by the consumer (the client went away) or ended: stop reading storage now, so no
    // object stream stays open behind a dead connection.
    archive.once('close', () => {
      closed = true;
      reading?.destroy();
    });

    const write = async (): Promise<void> => {
      for (const [index, entry] of entries.entries()) {
        if (closed) return;
        const object = await storage.get(entry.file.objectKey).catch((error: unknown) => {
          throw new ZipSourceError(entry.file, (error as Error).message, { cause: error });
        });
        if (!object) throw new ZipSourceError(entry.file, 'its object is not in storage');
        if (closed) {
          object.body.destroy();
          return;
        }
        reading = object.body;
        const bytes = await appendEntry(archive, object.body, entry);
        reading = undefined;
        if (bytes === undefined) {
          logger.debug(
            { workspaceId, filesDone: index, fileCount: entries.length },
            'zip download stopped: the client went away',
          );
          return;
        }
        // A short read ends the object's stream without an error; the archive would still be valid.
        if (bytes !== object.info.size) {
          throw new ZipSourceError(entry.file, `storage gave ${bytes} of its ${object.info.size} bytes`);
        }
      }
      if (closed) return;
      // Its promise settles with the archive's own end or error, which the consumer sees anyway.
      archive.finalize().catch(() => {});
    };

    const start = () =>
      write().catch((error: unknown) => {
        reading?.destroy();
        reading = undefined;
        const file = error instanceof ZipSourceError ? error.file : undefined;
        if (closed) {
          // Storage failed after the client had gone: there is no download left to abort.
          logger.debug({ err: error, workspaceId, fileId: file?.id }, 'zip download stopped');
          return;
        }
        logger.error(
          { err: error, workspaceId, fileId: file?.id, objectKey: file?.objectKey },
          'zip download aborted: a file could not be read',
        );
        archive.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    archive.onFirstRead = () => void start();
    return archive;
  }
}

/**
 * Starts its work when first read: nothing is read from storage before the response is piped, and an
 * error (the first object missing) cannot come before the consumer listens for it. Until something has
 * been written, the server can still answer that error with a status instead of a cut connection.
 */
function lazyZipClass(Base: typeof ZipArchive) {
  return class LazyZipArchive extends Base {
    onFirstRead: (() => void) | undefined;

    override _read(size: number): void {
      const first = this.onFirstRead;
      this.onFirstRead = undefined;
      first?.();
      super._read(size);
    }
  };
}

type LazyZip = ReturnType<typeof lazyZipClass>;
let lazyZip: Promise<LazyZip> | undefined;

/** archiver is loaded by the first zip, not at start: most instances never make one (docs/performance.md). */
function lazyZipArchive(): Promise<LazyZip> {
  return (lazyZip ??= import('archiver').then(({ ZipArchive }) => lazyZipClass(ZipArchive)));
}

/** A file of the zip that could not be read: which one, for the log. */
class ZipSourceError extends Error {
  override readonly name = 'ZipSourceError';
  constructor(
    readonly file: ZipFileRow,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Could not read file ${file.id} (${file.objectKey}) for the zip: ${reason}.`, options);
  }
}

/**
 * Appends `body` as the next entry and waits until the archive has taken all of it, so the next object
 * is opened only then (one object stream open at a time, each read at the pace the client reads).
 * Resolves with the bytes read, or undefined if the archive closed first (the client went away).
 */
function appendEntry(archive: ZipArchive, body: Readable, entry: PlannedEntry): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const count = (chunk: Buffer) => {
      bytes += chunk.length;
    };
    const settle = (finish: () => void) => {
      archive.off('entry', onEntry);
      archive.off('close', onClose);
      body.off('error', onError);
      body.off('data', count);
      finish();
    };
    const onEntry = () => settle(() => resolve(bytes));
    const onClose = () => settle(() => resolve(undefined));
    // The archive pipes the body into a stream of its own, and a pipe does not carry errors: without
    // this, a failed read would leave the archive waiting forever for the rest of the entry.
    const onError = (error: Error) =>
      settle(() => reject(new ZipSourceError(entry.file, error.message, { cause: error })));
    archive.once('entry', onEntry);
    archive.once('close', onClose);
    body.once('error', onError);
    archive.append(body, { name: entry.name, date: entry.date, store: true });
    // Counting alongside the archive's own pipe: the pipe still paces the body.
    body.on('data', count);
  });
}

/**
 * An entry name that unpacks as one file everywhere: no folders (/ and \), nothing Windows refuses in a
 * file name (which also keeps the writer from stripping a leading "C:"), no "." or "..".
 */
export function entryName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const safe = name.replace(/[\u0000-\u001f\u007f<>:"/\\|?*]/g, '_').trim();
  return safe === '' || /^\.+$/.test(safe) ? 'file' : safe;
}

/**
 * Names claimed so far, compared without case (Windows and macOS unpack DJI_0001.JPG and dji_0001.jpg
 * to the same file): a repeat becomes `name (2).jpg`, `name (3).jpg`, as browsers name repeated
 * downloads.
 */
export class UniqueNames {
  private readonly taken = new Set<string>();

  claim(name: string): string {
    const dot = name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    let candidate = name;
    for (let n = 2; this.taken.has(candidate.toLowerCase()); n++) candidate = `${stem} (${n})${ext}`;
    this.taken.add(candidate.toLowerCase());
    return candidate;
  }
}

/**
 * The entry's date. A zip date has no time zone and unzip tools show it as local time, so it is
 * written as the wall-clock time a person expects to see: the capture time as the device's clock read
 * it (what the photo's EXIF says too), else the time Skyvault recorded the file on the server's clock
 * (the zone of the DJI API's dates). The zip writer encodes the Date's UTC fields, hence the shifts.
 */
export function entryDate(file: Pick<ZipFileRow, 'capturedAt' | 'capturedAtRaw' | 'createdAt'>): Date {
  const capture = normalizeCaptureTime(file.capturedAtRaw);
  if (capture) {
    const wall = new Date(`${capture.iso.slice(0, 19)}Z`);
    if (!Number.isNaN(wall.getTime())) return wall;
  }
  const at = file.capturedAt ?? file.createdAt;
  return new Date(at - new Date(at).getTimezoneOffset() * 60_000);
}
