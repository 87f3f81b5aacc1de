/**
 * Background enrichment of recorded media: capture metadata read from the file itself (EXIF GPS and
 * time, DJI's `drone-dji` XMP altitudes and gimbal yaw) where the device's report lacked it, and two
 * JPEG renditions for the web library, stored outside the prefix devices may write to: a 256 px
 * thumbnail and a preview of at most 1600 px for the detail view. Images are renditioned from the
 * picture; videos from their first frame (the poster, made by ffmpeg, which also reads their duration).
 *
 * Runs after the upload is acknowledged, one file at a time (decoding is CPU-heavy and this server has
 * few cores), and resumes after a restart: a file is done when `enriched_at` is set.
 */
import exifr from 'exifr';
import sharp from 'sharp';
import type { Logger } from '../../shared/logger.ts';
import type { StorageProvider } from '../../storage/provider.ts';
import { zonedTime } from './capture-time.ts';
import { Ffmpeg } from './ffmpeg.ts';
import type { EnrichmentFacts, MediaRepo } from './media.repo.ts';
import { type CaptureMetadata, capturePosition } from './media.service.ts';

/** EXIF and XMP sit at the start of DJI JPEGs: this much is read for metadata. */
const HEAD_BYTES = 512 * 1024;
const THUMBNAIL_SIZE = 256;
const THUMBNAIL_QUALITY = 80;
/** The longest side of the preview: sharp on a large screen, a few hundred KB. */
const PREVIEW_SIZE = 1600;
const PREVIEW_QUALITY = 82;

export interface MediaEnricherOptions {
  repo: MediaRepo;
  storage: StorageProvider;
  logger: Logger;
  /** Images larger than this get no renditions (decoding them would take too much memory). */
  maxImageBytes?: number;
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

export class MediaEnricher {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private running: Promise<void> | undefined;
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
    sharp.concurrency(1);
  }

  enqueue(fileId: string): void {
    if (this.closed || this.queued.has(fileId)) return;
    this.queued.add(fileId);
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

  /** Resolves when the queue is empty. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    this.stopping.abort();
    await this.idle();
  }

  private async drain(): Promise<void> {
    for (let id = this.queue.shift(); id !== undefined; id = this.queue.shift()) {
      this.queued.delete(id);
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
      }
    }
  }

  private async enrich(fileId: string): Promise<void> {
    const file = await this.repo.findAnyById(fileId);
    if (!file || file.enrichedAt !== null) return;
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
      if (file.size <= (this.options.maxImageBytes ?? 100 * 1024 * 1024))
        made = await this.imageRenditions(file.objectKey);
    } else if (file.mediaType === 'video') {
      const video = await this.ffmpeg.videoFacts(this.options.storage, file.objectKey, {
        maxSize: PREVIEW_SIZE,
        signal: this.stopping.signal,
      });
      updates.durationMs = video.durationMs ?? null;
      if (video.poster) made = await this.posterRenditions(video.poster, file.objectKey);
    }
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
   * The preview and thumbnail of a stored image, EXIF orientation applied. The image is decoded once,
   * for the preview; the thumbnail is made from the preview, which costs a few milliseconds. (sharp's
   * clone() would share the input stream, but libvips decodes it again for every clone.)
   */
  private async imageRenditions(objectKey: string): Promise<Renditions | undefined> {
    const object = await this.options.storage.get(objectKey);
    if (!object) return undefined;
    const decode = sharp({ failOn: 'none' })
      .rotate()
      .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: PREVIEW_QUALITY });
    // pipe() does not pass a read error on, and sharp would wait for the rest of the image for ever.
    let readError: Error | undefined;
    const readFailed = new Promise<never>((_, reject) =>
      object.body.once('error', (error) => {
        readError = error;
        decode.destroy();
        reject(error);
      }),
    );
    readFailed.catch(() => undefined); // handled through readError below
    object.body.pipe(decode);
    let preview: Buffer;
    try {
      preview = await Promise.race([decode.toBuffer(), readFailed]);
    } catch (error) {
      object.body.destroy();
      if (readError) throw readError; // storage, not the image: tried again at the next start
      this.options.logger.info({ err: error, objectKey }, 'no thumbnail: the image cannot be decoded');
      return undefined;
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
