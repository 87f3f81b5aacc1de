/**
 * Background enrichment of recorded media: capture metadata read from the file itself (EXIF GPS and
 * time, DJI's `drone-dji` XMP altitudes and gimbal yaw) where the device's report lacked it, and a
 * 256 px JPEG thumbnail for images, stored outside the prefix devices may write to.
 *
 * Runs after the upload is acknowledged, one file at a time (image decoding is CPU-heavy and this
 * server has few cores), and resumes after a restart: a file is done when `enriched_at` is set.
 */
import exifr from 'exifr';
import sharp from 'sharp';
import type { Logger } from '../../shared/logger.ts';
import type { StorageProvider } from '../../storage/provider.ts';
import { zonedTime } from './capture-time.ts';
import type { EnrichmentFacts, MediaRepo } from './media.repo.ts';
import { type CaptureMetadata, capturePosition } from './media.service.ts';

/** EXIF and XMP sit at the start of DJI JPEGs: this much is read for metadata. */
const HEAD_BYTES = 512 * 1024;
const THUMBNAIL_SIZE = 256;

export interface MediaEnricherOptions {
  repo: MediaRepo;
  storage: StorageProvider;
  logger: Logger;
  /** Images larger than this get no thumbnail (decoding them would take too much memory). */
  maxImageBytes?: number;
  now?: () => number;
}

/** Where the thumbnail of a file is kept: beside the workspace's media, not inside its upload prefix. */
export function thumbnailKey(workspaceId: string, fileId: string): string {
  return `${workspaceId}/thumbnails/${fileId}.jpg`;
}

export class MediaEnricher {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => number;

  private readonly repo: MediaRepo;

  constructor(private readonly options: MediaEnricherOptions) {
    this.repo = options.repo;
    this.now = options.now ?? Date.now;
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
    await this.idle();
  }

  private async drain(): Promise<void> {
    for (let id = this.queue.shift(); id !== undefined; id = this.queue.shift()) {
      this.queued.delete(id);
      try {
        await this.enrich(id);
      } catch (error) {
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
      if (file.size <= (this.options.maxImageBytes ?? 100 * 1024 * 1024)) {
        const thumbnail = await this.thumbnail(file.objectKey);
        if (thumbnail) {
          const key = thumbnailKey(file.workspaceId, file.id);
          await this.options.storage.put(key, thumbnail, { contentType: 'image/jpeg' });
          updates.thumbnailKey = key;
        }
      }
    }
    // Only if the file is still the one examined (a re-upload resets enriched_at and requeues).
    const saved = await this.repo.saveEnrichment(fileId, file.etag, updates, this.now());
    // Deleted or replaced meanwhile: the thumbnail made for it belongs to nothing.
    if (!saved && typeof updates.thumbnailKey === 'string') {
      await this.options.storage.delete(updates.thumbnailKey);
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

  private async thumbnail(objectKey: string): Promise<Buffer | undefined> {
    const object = await this.options.storage.get(objectKey);
    if (!object) return undefined;
    try {
      const resize = sharp({ failOn: 'none' })
        .rotate()
        .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside' })
        .jpeg({ quality: 80 });
      object.body.pipe(resize);
      return await resize.toBuffer();
    } catch (error) {
      object.body.destroy();
      this.options.logger.info({ err: error, objectKey }, 'no thumbnail: the image cannot be decoded');
      return undefined;
    }
  }
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
