/**
 * Background enrichment of recorded media: capture metadata read from the file itself (EXIF GPS and
 * time, DJI's `drone-dji` XMP altitudes and gimbal yaw) where the device's report lacked it, and two
 * JPEG renditions for the web library, stored outside the prefix devices may write to: a 256 px
 * thumbnail and a preview of at most 1600 px for the detail view. Images are renditioned from the
 * picture; videos from their first frame (the poster, made by ffmpeg, which also reads their duration).
 *
 * Runs after the upload is acknowledged, one file at a time (decoding is CPU-heavy and this server has
 * few cores), and resumes after a restart: a file is done when `enriched_at` is set.
 *
 * Uploads are untrusted, and a few bytes can declare a picture of billions of pixels, or one that takes
 * minutes to decode (a decompression bomb). What one image may cost is bounded before it is decoded,
 * from its header (IMAGE_LIMITS; docs/web.md, "Thumbnails, previews and their limits"), and while it
 * is (a time limit). A file over a limit, or that cannot be read, fails: it is done, with the reason in
 * `enrichment_error`, and is not tried again until its object is replaced. A file the process died on
 * (killed for its memory, a crash in a decoder) fails after MAX_UNFINISHED_ATTEMPTS starts, instead of
 * killing the server again at every start.
 */
import type * as ExifrModule from 'exifr';
import type SharpModule from 'sharp';
import type { Metadata } from 'sharp';
import type { Logger } from '../../shared/logger.ts';
import type { StorageProvider } from '../../storage/provider.ts';
import { zonedTime } from './capture-time.ts';
import { Ffmpeg, megapixels } from './ffmpeg.ts';
import type { EnrichmentFacts, MediaFile, MediaRepo } from './media.repo.ts';
import { type CaptureMetadata, capturePosition } from './media.service.ts';

/** EXIF and XMP sit at the start of DJI JPEGs: this much is read for metadata. */
const HEAD_BYTES = 512 * 1024;
const THUMBNAIL_SIZE = 256;
const THUMBNAIL_QUALITY = 80;
/** The longest side of the preview: sharp on a large screen, a few hundred KB. */
const PREVIEW_SIZE = 1600;
const PREVIEW_QUALITY = 82;

/**
 * What rendering one image may cost, checked against its header before it is decoded. Measured with
 * this sharp (libvips 8.18) on one core, peak RSS growth per decoded image:
 * - baseline JPEG, what every DJI camera writes (photos of at most 48 MP, 8064 × 6048, and panoramas):
 *   decoded in strips at 1/8 scale, so besides the file's own bytes under 25 MB whatever its size
 *   (measured up to 60000 px wide), and about a second per 50 MP of detailed picture (a 17 MB 48 MP
 *   photo of noise: 0.9 s; 16000 × 8000: 1.5 s). 400 MP (20000 × 20000) takes them all with room.
 * - anything else is held whole or in wide strips while decoded: a progressive JPEG, or one in several
 *   scans, keeps every DCT coefficient (6 bytes a pixel at 4:4:4, 1.6 GB at 16383 × 16383 from a 623-byte
 *   file, and one pass over them per scan: 15 s with 2,000 scans), an interlaced 16-bit PNG 10.5 bytes a
 *   pixel, GIF 5. 32 MP (above DJI's 20 MP sensors; its TIFFs are at most 5 MP) keeps those under 350 MB
 *   and 6 s.
 * - HEIF/AVIF (no DJI camera writes them) take 18 to 26 bytes a pixel: not rendered; nor is SVG.
 * sharp's own default (268 MP for every format) let such a JPEG take 1.6 GB.
 */
export const IMAGE_LIMITS = {
  /** Baseline (sequential) JPEG. */
  jpegPixels: 400_000_000,
  /** Progressive (or multi-scan) JPEG, PNG, TIFF, WebP, GIF. */
  otherPixels: 32_000_000,
  /** Formats rendered (as sharp names them). */
  formats: ['jpeg', 'png', 'tiff', 'webp', 'gif'] as readonly string[],
  /**
   * Reading the header and rendering both JPEGs: 20 times what a 48 MP photo takes here, 4 times what a
   * 400 MP JPEG would; what takes longer is abandoned (and stopped by libvips as soon as it can).
   */
  timeoutMs: 30_000,
};

/** Starts of enrichment that never ended (the process died) after which a file fails unopened. */
export const MAX_UNFINISHED_ATTEMPTS = 3;

/** A reason is stored in a varchar(500). */
const MAX_REASON_LENGTH = 500;

export interface MediaEnricherOptions {
  repo: MediaRepo;
  storage: StorageProvider;
  logger: Logger;
  /** Images larger than this get no renditions (decoding them would take too much memory). */
  maxImageBytes?: number;
  /** How long reading an image's header and rendering it may take (IMAGE_LIMITS.timeoutMs). */
  imageTimeoutMs?: number;
  /** SKYVAULT_FFMPEG; undefined looks for the installed package's ffmpeg, then the PATH's. */
  ffmpegPath?: string | undefined;
  /** How long ffmpeg may take over one video before it is stopped. */
  ffmpegTimeoutMs?: number;
  now?: () => number;
}

/** Where the thumbnail of a file is kept: beside the workspace's media, not inside its upload prefix. */
export function thumbnailKey(workspaceId: string, fileId: string): string {
  return `${workspaceId}/thumbnails/${fileId}.jpg`;
}

/** Where the preview of a file is kept, beside its thumbnail (outside the upload prefix too). */
export function previewKey(workspaceId: string, fileId: string): string {
  return `${workspaceId}/previews/${fileId}.jpg`;
}

interface Renditions {
  thumbnail: Buffer;
  preview: Buffer;
}

/** Why a file gets no renditions: stored as its enrichment_error. */
class Unrenderable extends Error {
  /** Over a limit (a likely bomb, logged as a warning) rather than merely unreadable. */
  constructor(
    message: string,
    readonly limit = false,
  ) {
    super(message);
  }
}

/** Resolves `work`, or rejects with `onTimeout()` after `ms` (the work goes on, abandoned). */
function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  work.catch(() => undefined); // an abandoned job's later failure is nobody's business
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

type Sharp = typeof SharpModule;
/** What enrichment uses of exifr. */
type Exifr = Pick<typeof ExifrModule, 'parse'>;
// Set by loadDecoders, which every enrichment awaits first.
let sharp: Sharp;
let exifr: Exifr;
let decoders: Promise<void> | undefined;

/**
 * sharp (libvips) and exifr are loaded by the first file to enrich, not at start: they are a large part
 * of the start's time and memory (docs/performance.md), and an instance may run a while before a file
 * arrives.
 */
function loadDecoders(): Promise<void> {
  return (decoders ??= Promise.all([import('sharp'), import('exifr')]).then(
    ([sharpModule, exifrModule]) => {
      sharp = sharpModule.default;
      exifr = exifrModule.default;
      // One libvips thread per image, and no cache of decoded images: every upload is a different file,
      // and the cache would keep up to 50 MB of them.
      sharp.concurrency(1);
      sharp.cache(false);
    },
    (error: unknown) => {
      decoders = undefined;
      throw error;
    },
  ));
}

export class MediaEnricher {
  /** Files to enrich, in order, from `head` on (taking from the front with shift() is O(n)). */
  private queue: string[] = [];
  private head = 0;
  private readonly queued = new Set<string>();
  /** Queued files whose recording counted their enrichment as started: their rows as recorded. */
  private readonly claimed = new Map<string, MediaFile>();
  private running: Promise<void> | undefined;
  /** The file being enriched now, if any. */
  private current: string | undefined;
  private closed = false;
  /** Stops a running ffmpeg at close, rather than letting shutdown wait for it. */
  private readonly stopping = new AbortController();
  private readonly now: () => number;

  private readonly repo: MediaRepo;
  private readonly ffmpeg: Ffmpeg;

  constructor(private readonly options: MediaEnricherOptions) {
    this.repo = options.repo;
    this.now = options.now ?? Date.now;
    this.ffmpeg = new Ffmpeg({
      configuredPath: options.ffmpegPath,
      logger: options.logger,
      ...(options.ffmpegTimeoutMs === undefined ? {} : { timeoutMs: options.ffmpegTimeoutMs }),
    });
  }

  /**
   * Queues a file. `claimed`: its row as the recording just wrote it, with its enrichment counted as
   * started (enrichment_attempts 1, MediaEvents.recorded): it is enriched from that row, without writing
   * the count again and reading the row back (MediaRepo.beginEnrichment), which was a database round
   * trip and a commit per file. Without it (files resumed at start, a repeated report) the file is
   * claimed first. Either way a start is counted before the file is opened, and the save is guarded by
   * the object's ETag, so a file deleted or replaced meanwhile is left alone.
   */
  enqueue(fileId: string, claimed?: MediaFile): void {
    if (this.closed || this.queued.has(fileId)) return;
    this.queued.add(fileId);
    if (claimed) this.claimed.set(fileId, claimed);
    this.queue.push(fileId);
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Queues every file not enriched yet (after a restart). */
  async resume(): Promise<number> {
    const ids = await this.repo.unenrichedIds();
    for (const id of ids) this.enqueue(id);
    return ids.length;
  }

  /** Files waiting for enrichment, the one in progress included (metrics). */
  get backlog(): number {
    return this.queue.length - this.head + (this.current === undefined ? 0 : 1);
  }

  /** Resolves when the queue is empty. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.claimed.clear();
    this.stopping.abort();
    await this.idle();
  }

  /** The next file to enrich, taken off the queue. */
  private next(): string | undefined {
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
      return undefined;
    }
    const id = this.queue[this.head++];
    // Drops what was taken once it is most of the array, so a large backlog does not stay in memory.
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return id;
  }

  private async drain(): Promise<void> {
    try {
      await loadDecoders();
    } catch (error) {
      this.options.logger.error(
        { err: error },
        'media enrichment cannot run: sharp or exifr could not be loaded; files wait for the next start',
      );
      this.queue = [];
      this.head = 0;
      this.queued.clear();
      this.claimed.clear();
      return;
    }
    for (let id = this.next(); id !== undefined; id = this.next()) {
      this.queued.delete(id);
      this.current = id;
      try {
        await this.enrich(id);
      } catch (error) {
        if (this.closed)
          this.options.logger.info(
            { fileId: id },
            'media enrichment stopped by shutdown; resumes at next start',
          );
        else
          this.options.logger.warn(
            { err: error, fileId: id },
            'media enrichment failed; will retry at next start',
          );
      } finally {
        this.current = undefined;
      }
    }
  }

  private async enrich(fileId: string): Promise<void> {
    // As recorded (its start counted then), or: counts this attempt and reads the file in one
    // statement, undefined when it is gone or enriched.
    const recorded = this.claimed.get(fileId);
    this.claimed.delete(fileId);
    const file = recorded ?? (await this.repo.beginEnrichment(fileId));
    if (!file) return;
    const unfinished = file.enrichmentAttempts - 1;
    if (unfinished >= MAX_UNFINISHED_ATTEMPTS) {
      const reason =
        `enrichment started ${unfinished} times and never finished (the server stopped ` +
        'or died while working on this file); not tried again';
      this.options.logger.warn({ fileId, objectKey: file.objectKey }, reason);
      await this.save(file, { enrichmentError: reason }, undefined);
      return;
    }
    try {
      await this.examine(file);
    } catch (error) {
      // Storage failed, or shutdown: tried again at the next start, and not counted against the file.
      await this.repo.endEnrichment(file.id, file.etag);
      throw error;
    }
  }

  private async examine(file: MediaFile): Promise<void> {
    const updates: EnrichmentFacts = {};
    let made: Renditions | undefined;
    if (file.mediaType === 'image') {
      const missing =
        file.latitude === null ||
        file.absoluteAltitude === null ||
        file.relativeAltitude === null ||
        file.gimbalYawDegree === null ||
        file.capturedAt === null;
      if (missing) {
        const found = await this.readMetadata(file.objectKey);
        const fill = (field: keyof CaptureMetadata) => {
          if (file[field] === null && found[field] !== undefined)
            Object.assign(updates, { [field]: found[field] });
        };
        if (file.latitude === null && file.longitude === null) {
          fill('latitude');
          fill('longitude');
        }
        fill('absoluteAltitude');
        fill('relativeAltitude');
        fill('gimbalYawDegree');
        fill('capturedAt');
        fill('capturedAtRaw');
      }
      try {
        made = await this.imageRenditions(file);
      } catch (error) {
        if (!(error instanceof Unrenderable)) throw error; // storage: tried again at the next start
        updates.enrichmentError = error.message;
        const context = { fileId: file.id, objectKey: file.objectKey, reason: error.message };
        if (error.limit) this.options.logger.warn(context, 'no thumbnail: the image is over a limit');
        else this.options.logger.info(context, 'no thumbnail: the image cannot be decoded');
      }
    } else if (file.mediaType === 'video') {
      const video = await this.ffmpeg.videoFacts(this.options.storage, file.objectKey, {
        maxSize: PREVIEW_SIZE,
        signal: this.stopping.signal,
      });
      updates.durationMs = video.durationMs ?? null;
      if (video.problem) updates.enrichmentError = video.problem;
      if (video.poster) made = await this.posterRenditions(video.poster, file.objectKey);
      if (video.poster && !made) updates.enrichmentError = 'the video poster cannot be decoded';
    }
    await this.save(file, updates, made);
  }

  /** Stores the renditions made (none: none) and what was found; the file is done. */
  private async save(file: MediaFile, updates: EnrichmentFacts, made: Renditions | undefined): Promise<void> {
    const fileId = file.id;
    if (updates.enrichmentError)
      updates.enrichmentError = updates.enrichmentError.slice(0, MAX_REASON_LENGTH);
    const keys = {
      thumbnail: thumbnailKey(file.workspaceId, file.id),
      preview: previewKey(file.workspaceId, file.id),
    };
    if (made) {
      await this.options.storage.put(keys.thumbnail, made.thumbnail, { contentType: 'image/jpeg' });
      await this.options.storage.put(keys.preview, made.preview, { contentType: 'image/jpeg' });
    }
    // The renditions are those of the object examined: none made means none (not the previous object's).
    updates.thumbnailKey = made ? keys.thumbnail : null;
    updates.previewKey = made ? keys.preview : null;
    // Only if the file is still the one examined (a re-upload resets enriched_at and requeues).
    const saved = await this.repo.saveEnrichment(fileId, file.etag, updates, this.now());
    if (!saved) {
      // Deleted or replaced meanwhile: the renditions made for it belong to nothing.
      if (made) for (const key of Object.values(keys)) await this.options.storage.delete(key);
      return;
    }
    // Renditions of the object the file held before that were not made again for this one.
    for (const old of [file.thumbnailKey, file.previewKey]) {
      if (old && old !== updates.thumbnailKey && old !== updates.previewKey)
        await this.options.storage.delete(old);
    }
  }

  private async readMetadata(objectKey: string): Promise<CaptureMetadata> {
    const head = await this.options.storage.get(objectKey, { start: 0, end: HEAD_BYTES - 1 });
    if (!head) return {};
    const chunks: Buffer[] = [];
    for await (const chunk of head.body) chunks.push(Buffer.from(chunk as Uint8Array));
    try {
      return metadataFromExif(
        await exifr.parse(Buffer.concat(chunks), { xmp: true, gps: true, tiff: true, exif: true }),
      );
    } catch (error) {
      this.options.logger.info({ err: error, objectKey }, 'no readable EXIF/XMP');
      return {};
    }
  }

  /**
   * The preview and thumbnail of a stored image, EXIF orientation applied, within IMAGE_LIMITS: its
   * header is read first, and only an image of a rendered format and within the pixel limits is
   * decoded. The image is decoded once, for the preview, at 1/8 scale when a JPEG allows; the thumbnail
   * is made from the preview, which costs a few milliseconds. Throws Unrenderable for the image's
   * faults, anything else for storage's.
   */
  private async imageRenditions(file: MediaFile): Promise<Renditions | undefined> {
    const maxBytes = this.options.maxImageBytes ?? 100 * 1024 * 1024;
    const tooLarge = () => new Unrenderable(`larger than ${megabytes(maxBytes)} MB: not rendered`, true);
    if (file.size > maxBytes) throw tooLarge();
    const object = await this.options.storage.get(file.objectKey);
    if (!object) return undefined;
    // Read whole (sharp would buffer a stream whole too): the header is read before anything is decoded.
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of object.body) {
      bytes += (chunk as Uint8Array).length;
      if (bytes > maxBytes) {
        object.body.destroy();
        throw tooLarge();
      }
      chunks.push(Buffer.from(chunk as Uint8Array));
    }
    const input = Buffer.concat(chunks);
    const timeoutMs = this.options.imageTimeoutMs ?? IMAGE_LIMITS.timeoutMs;
    const timedOut = () =>
      new Unrenderable(`rendering took more than ${timeoutMs / 1000} s and was abandoned`, true);
    // sharp stops libvips at its own timeout once decoding runs; the deadline also covers what its clock
    // does not (a progressive JPEG's scans are read in one call), so that the queue goes on regardless.
    return withDeadline(this.render(input, Math.ceil(timeoutMs / 1000)), timeoutMs, timedOut);
  }

  private async render(input: Buffer, timeoutSeconds: number): Promise<Renditions> {
    let header: Metadata;
    try {
      // Only the header: no limit here, so that the reason can name the size.
      header = await sharp(input, { failOn: 'none', limitInputPixels: false }).metadata();
    } catch (error) {
      throw new Unrenderable(`the image cannot be decoded: ${messageOf(error)}`);
    }
    const { format, width, height } = header;
    if (format === 'heif' || !IMAGE_LIMITS.formats.includes(format)) {
      const name = format === 'heif' ? 'HEIF/AVIF' : String(format).toUpperCase();
      throw new Unrenderable(`${name} images are not rendered`);
    }
    // libvips's "interlaced": progressive, or any JPEG whose first scan lacks a component (a sequential
    // JPEG in several scans is decoded like a progressive one, all coefficients held).
    const streamed = format === 'jpeg' && !header.isProgressive;
    const limit = streamed ? IMAGE_LIMITS.jpegPixels : IMAGE_LIMITS.otherPixels;
    const pixels = width * height;
    if (pixels > limit) {
      const kind = format === 'jpeg' ? 'progressive or multi-scan JPEG' : format.toUpperCase();
      throw new Unrenderable(
        `${width} × ${height} px (${megapixels(pixels)} MP, ${streamed ? 'JPEG' : kind}): more than the ` +
          `${megapixels(limit)} MP allowed for ${streamed ? 'baseline JPEG' : 'images other than baseline JPEG'}`,
        true,
      );
    }
    let preview: Buffer;
    const started = Date.now();
    try {
      preview = await sharp(input, { failOn: 'none', limitInputPixels: limit })
        .rotate()
        .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: PREVIEW_QUALITY })
        .timeout({ seconds: timeoutSeconds })
        .toBuffer();
    } catch (error) {
      const message = messageOf(error);
      // libvips stopped at its timeout says so, or (a progressive JPEG cut off mid-scan) reports the
      // truncated data instead: past the time limit, either is the limit.
      if (message.startsWith('timeout:') || Date.now() - started >= timeoutSeconds * 1000)
        throw new Unrenderable(`rendering took more than ${timeoutSeconds} s and was stopped`, true);
      throw new Unrenderable(`the image cannot be decoded: ${message}`);
    }
    return { preview, thumbnail: await thumbnailOf(preview) };
  }

  /** The preview and thumbnail of a video, from its poster (a JPEG of at most PREVIEW_SIZE). */
  private async posterRenditions(poster: Buffer, objectKey: string): Promise<Renditions | undefined> {
    try {
      const preview = await sharp(poster, { failOn: 'none' })
        .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
        .jpeg({ quality: PREVIEW_QUALITY })
        .toBuffer();
      return { preview, thumbnail: await thumbnailOf(preview) };
    } catch (error) {
      this.options.logger.info({ err: error, objectKey }, 'no thumbnail: the video poster cannot be decoded');
      return undefined;
    }
  }
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
}

function megabytes(bytes: number): string {
  return String(Math.round((bytes / 1024 / 1024) * 10) / 10);
}

function thumbnailOf(preview: Buffer): Promise<Buffer> {
  return sharp(preview)
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside' })
    .jpeg({ quality: THUMBNAIL_QUALITY })
    .toBuffer();
}

type ExifOutput = Record<string, unknown> | undefined;

/** Capture metadata from exifr's merged output of EXIF, GPS and DJI's drone-dji XMP. */
export function metadataFromExif(out: ExifOutput): CaptureMetadata {
  if (!out) return {};
  const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
  const { latitude, longitude } = capturePosition(
    num(out.latitude) ?? num(out.GpsLatitude),
    num(out.longitude) ?? num(out.GpsLongitude),
  );
  const original = out.DateTimeOriginal ?? out.CreateDate;
  let capturedAtRaw: string | undefined;
  if (original instanceof Date && !Number.isNaN(original.getTime())) {
    // exifr builds zone-less EXIF times in the process's zone: take the wall clock back out of it.
    const wall = Date.UTC(
      original.getFullYear(),
      original.getMonth(),
      original.getDate(),
      original.getHours(),
      original.getMinutes(),
      original.getSeconds(),
    );
    const iso = new Date(wall).toISOString().slice(0, 19);
    const offset = typeof out.OffsetTimeOriginal === 'string' ? out.OffsetTimeOriginal.trim() : undefined;
    capturedAtRaw = offset ? `${iso}${offset}` : iso.replace('T', ' ');
  }
  return {
    latitude,
    longitude,
    absoluteAltitude: num(out.AbsoluteAltitude),
    relativeAltitude: num(out.RelativeAltitude),
    gimbalYawDegree: num(out.GimbalYawDegree),
    // The same rule as a device's report: only a time that names its zone is placed on the time line.
    capturedAt: zonedTime(capturedAtRaw),
    capturedAtRaw,
  };
}
