/**
 * "Record media": the rules behind DJI Pilot 2's media upload (docs/protocol.md §3) and, later, the dock's
 * `file_upload_callback` (§4.2). Transport-free: HTTP and MQTT adapters parse the wire into the plain
 * inputs below and render what comes back.
 *
 * Stricter than DJI's demo where it protects the library: a file is recorded only when its object is in
 * storage under the prefix issued to the workspace; dedupe is enforced by unique indexes; a report of a
 * failed upload is logged, never shown. Lenient where devices differ: every metadata field is optional.
 */
import Emittery from 'emittery';
import { isUniqueViolation } from '../../db/errors.ts';
import type { MediaSource, MediaType } from '../../db/schema.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import { AppError } from '../../shared/app-error.ts';
import { newId } from '../../shared/ids.ts';
import { objectKeyProblem } from '../../storage/object-key.ts';
import type { ObjectInfo, StorageProvider, UploadCredentials } from '../../storage/provider.ts';
import type { MediaFile, MediaRepo, NewMediaFile } from './media.repo.ts';

export interface CaptureMetadata {
  latitude?: number | undefined;
  longitude?: number | undefined;
  absoluteAltitude?: number | undefined;
  relativeAltitude?: number | undefined;
  gimbalYawDegree?: number | undefined;
  /** Epoch ms, when the device gave a time with its zone. */
  capturedAt?: number | undefined;
  capturedAtRaw?: string | undefined;
}

/** One uploaded file as a device reports it, quirks already absorbed by the adapter. */
export interface MediaUploadReport {
  source: MediaSource;
  /** 0 = the device's upload to storage succeeded. */
  result: number;
  objectKey: string;
  name: string;
  path: string;
  fingerprint?: string | undefined;
  tinyFingerprint?: string | undefined;
  isOriginal: boolean;
  subFileType?: number | undefined;
  fileGroupId?: string | undefined;
  droneSn?: string | undefined;
  droneModelKey?: string | undefined;
  payloadModelKey?: string | undefined;
  metadata: CaptureMetadata;
}

export interface MediaServiceOptions {
  repo: MediaRepo;
  storage: StorageProvider;
  credentialTtlSeconds: number;
  now?: () => number;
  /** Counts the bytes of each new file (skyvault_upload_bytes_total). */
  metrics?: Pick<Metrics, 'uploadBytes'> | undefined;
}

export interface MediaEvents {
  /**
   * A file was recorded or replaced by a new object, and is not enriched yet (enrichment picks it up).
   * `claimed`: this recording wrote the row with its enrichment counted as started (a new file or a new
   * object: enrichment_attempts 1), so the enricher can start on `file` as it is.
   */
  recorded: { file: MediaFile; claimed: boolean };
  /** A new file is in the library (once per file). */
  created: MediaFile;
}

const EXPIRY_MARGIN_SECONDS = 300;

/** Where a workspace's media live in the bucket (decision §10.17). */
export function mediaPrefix(workspaceId: string): string {
  return `${workspaceId}/media`;
}

export class MediaService {
  readonly events = new Emittery<MediaEvents>();
  private readonly repo: MediaRepo;
  private readonly now: () => number;

  constructor(private readonly options: MediaServiceOptions) {
    this.repo = options.repo;
    this.now = options.now ?? Date.now;
  }

  /**
   * Upload credentials for the workspace's media prefix, with the lifetime to announce to the device:
   * shorter than the real one by a safety margin, as DJI's demo does (§10.16), and never below 1 s.
   */
  async uploadCredentials(
    workspaceId: string,
    publicHostname: string | undefined,
  ): Promise<UploadCredentials & { announcedExpireSeconds: number }> {
    const credentials = await this.options.storage.issueUploadCredentials({
      prefix: mediaPrefix(workspaceId),
      ttlSeconds: this.options.credentialTtlSeconds,
      publicHostname,
    });
    const remaining = Math.floor((credentials.expiresAt - this.now()) / 1000);
    const margin = Math.min(EXPIRY_MARGIN_SECONDS, Math.floor(remaining / 10));
    return { ...credentials, announcedExpireSeconds: Math.max(1, remaining - margin) };
  }

  /**
   * fast-upload: whether the file with this fingerprint is already in the cloud. Only when its object
   * really is in storage; a record whose object vanished is removed so that Pilot uploads again. When
   * the request names a file group, the file is linked to it.
   */
  async isInCloud(workspaceId: string, fingerprint: string, fileGroupId?: string): Promise<boolean> {
    const file = await this.repo.findByFingerprint(workspaceId, normalizeFingerprint(fingerprint));
    if (!file) return false;
    if (!(await this.objectExists(file.objectKey))) {
      await this.repo.delete(file.id);
      return false;
    }
    if (fileGroupId) await this.linkToGroup(workspaceId, file, fileGroupId);
    return true;
  }

  /**
   * A fast-upload hit names the group (wayline task) the file belongs to (decision §10.6): a file
   * without a group joins it; a file of another group is counted in this one too, so both groups'
   * completeness is right although the file is kept once.
   */
  private async linkToGroup(
    workspaceId: string,
    file: { id: string; fileGroupId: string | null },
    fileGroupId: string,
  ): Promise<void> {
    if (file.fileGroupId === fileGroupId) return;
    const now = this.now();
    if (file.fileGroupId === null && (await this.repo.setGroupIfNone(file.id, fileGroupId, now))) return;
    await this.repo.addGroupMember(workspaceId, fileGroupId, file.id, now);
  }

  /** tiny-fingerprints: the requested values the workspace already holds, in request order. */
  async existingTinyFingerprints(workspaceId: string, tinyFingerprints: string[]): Promise<string[]> {
    const found = await this.repo.existingTinyFingerprints(workspaceId, tinyFingerprints);
    return tinyFingerprints.filter((t) => found.has(t));
  }

  /**
   * upload-callback / file_upload_callback: records the uploaded file, idempotently. Returns the file
   * recorded; undefined when nothing was (a failed upload, only logged; or a copy of a file already held).
   */
  async recordUpload(workspaceId: string, report: MediaUploadReport): Promise<MediaFile | undefined> {
    // A key that is not what it looks like (`<prefix>/../../<other>/…`, `<prefix>//x`) is refused before
    // anything is recorded, failures included.
    const keyProblem = objectKeyProblem(report.objectKey);
    if (keyProblem) throw new AppError('ObjectKeyInvalid', keyProblem.message);
    const prefix = `${mediaPrefix(workspaceId)}/`;
    if (!report.objectKey.startsWith(prefix)) {
      throw new AppError(
        'ObjectKeyOutsidePrefix',
        `The object key must start with "${prefix}", the prefix issued to this workspace.`,
      );
    }
    const now = this.now();
    const reported = report.fingerprint ? normalizeFingerprint(report.fingerprint) : undefined;
    if (report.result !== 0) {
      await this.repo.insertFailure({
        id: newId(),
        workspaceId,
        objectKey: report.objectKey,
        name: report.name,
        source: report.source,
        result: report.result,
        fingerprint: reported ?? null,
        reportedAt: now,
      });
      return undefined;
    }
    const object = await this.headObject(report.objectKey);
    if (!object) {
      throw new AppError(
        'ObjectNotInStorage',
        `The object "${report.objectKey}" is not in storage: upload it before reporting it.`,
      );
    }
    // Docks send no fingerprint: the object's MD5, where storage knows it, stands in (decision §10.55),
    // so rows are told apart and a later fast-upload of the same file finds it.
    const fromStore = report.source === 'dock' && object.md5 ? normalizeFingerprint(object.md5) : undefined;
    const fingerprint = reported
      ? { value: reported, derived: false }
      : fromStore === undefined
        ? undefined
        : { value: fromStore, derived: true };
    // A concurrent report of the same file can win a unique index between our lookup and our write
    // (on PostgreSQL even for the same key: ON CONFLICT arbitrates one index only). Look again then.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store(workspaceId, report, object, fingerprint, now);
      } catch (error) {
        if (!isUniqueViolation(error) || attempt === 3) throw error;
      }
    }
  }

  /**
   * Dedupe by fingerprint, then upsert by object key. A repeated report (Pilot retries a callback whose
   * answer it missed) that would change nothing is answered from the row already recorded, without a write.
   * A fingerprint the device reported dedupes; one derived from storage (a dock file's MD5) never removes
   * what a dock uploaded: when another file already holds it, this row simply has none.
   *
   * Most reports name a file no other file duplicates: they are settled in one round trip
   * (MediaRepo.upsertChanged: the row of their key read, and written when missing or changed). A report
   * whose fingerprint another file holds fails there on the fingerprint's unique index, and is then
   * settled here.
   */
  private async store(
    workspaceId: string,
    report: MediaUploadReport,
    object: ObjectInfo,
    reportedOrDerived: { value: string; derived: boolean } | undefined,
    now: number,
  ): Promise<MediaFile | undefined> {
    const file = this.fileOf(workspaceId, report, object, reportedOrDerived?.value, now);
    try {
      const { current, written } = await this.repo.upsertChanged(file);
      // Neither: another report of this key was recorded between the two reads; settled below.
      if (written || current) return await this.recorded(file, written ?? current!, written !== undefined);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    let fingerprint = reportedOrDerived?.value;
    const { current, twin } = await this.repo.findReportTargets(workspaceId, report.objectKey, fingerprint);
    if (fingerprint && current?.fingerprint !== fingerprint) {
      if (twin && twin.objectKey !== report.objectKey && reportedOrDerived?.derived) fingerprint = undefined;
      // The same file under another key: keep the recorded one, and the new object is a redundant copy.
      else if (twin && twin.objectKey !== report.objectKey) {
        if (await this.objectExists(twin.objectKey)) {
          await this.options.storage.delete(report.objectKey);
          // Its group still counts it (decision §10.6).
          if (report.fileGroupId) await this.linkToGroup(workspaceId, twin, report.fileGroupId);
          return undefined;
        }
        await this.repo.delete(twin.id);
      }
    }
    const settled = { ...file, fingerprint: fingerprint ?? null };
    const written = await this.repo.writeIfChanged(current, settled);
    return this.recorded(settled, written ?? current!, written !== undefined);
  }

  /** The row a report would record. */
  private fileOf(
    workspaceId: string,
    report: MediaUploadReport,
    object: ObjectInfo,
    fingerprint: string | undefined,
    now: number,
  ): NewMediaFile {
    const m = report.metadata;
    return {
      id: newId(),
      workspaceId,
      objectKey: report.objectKey,
      name: report.name,
      path: report.path,
      source: report.source,
      mediaType: mediaTypeOf(object.contentType, report.name),
      fingerprint: fingerprint ?? null,
      tinyFingerprint: report.tinyFingerprint ?? null,
      isOriginal: report.isOriginal ? 1 : 0,
      subFileType: report.subFileType ?? null,
      fileGroupId: report.fileGroupId ?? null,
      droneSn: report.droneSn ?? null,
      droneModelKey: report.droneModelKey ?? null,
      payloadModelKey: report.payloadModelKey ?? null,
      size: object.size,
      contentType: object.contentType,
      etag: object.etag,
      latitude: m.latitude ?? null,
      longitude: m.longitude ?? null,
      absoluteAltitude: m.absoluteAltitude ?? null,
      relativeAltitude: m.relativeAltitude ?? null,
      gimbalYawDegree: m.gimbalYawDegree ?? null,
      capturedAt: m.capturedAt ?? null,
      capturedAtRaw: m.capturedAtRaw ?? null,
      createdAt: now,
      updatedAt: now,
    };
  }

  /** What follows a report's row: enrichment when it is not enriched, the library's news when new. */
  private async recorded(file: NewMediaFile, recorded: MediaFile, written: boolean): Promise<MediaFile> {
    if (recorded.enrichedAt === null) {
      const claimed = written && recorded.enrichmentAttempts === 1;
      await this.events.emit('recorded', { file: recorded, claimed });
    }
    if (recorded.id === file.id) {
      this.options.metrics?.uploadBytes.inc({ source: file.source }, file.size);
      await this.events.emit('created', recorded);
    }
    return recorded;
  }

  /** group-upload-callback: the group's expected and reported counts; returns how many Skyvault holds. */
  async recordGroup(
    workspaceId: string,
    groupId: string,
    expected: number,
    reportedUploaded: number,
  ): Promise<number> {
    await this.repo.upsertGroup(workspaceId, groupId, expected, reportedUploaded, this.now());
    return this.repo.countInGroup(workspaceId, groupId);
  }

  private async headObject(key: string) {
    try {
      return await this.options.storage.head(key);
    } catch (error) {
      throw new AppError('StorageUnavailable', undefined, { cause: error });
    }
  }

  private async objectExists(key: string): Promise<boolean> {
    return (await this.headObject(key)) !== undefined;
  }
}

/**
 * A capture position as the library keeps it: both coordinates or neither, rounded to 7 decimals (about
 * 1 cm, finer than any drone's GPS; floating-point noise such as 22.580399999999997 goes). Out-of-range
 * values are noise, and 0,0 is what an aircraft without a GPS fix reports, not a place.
 */
export function capturePosition(
  latitude: number | undefined,
  longitude: number | undefined,
): { latitude?: number; longitude?: number } {
  const valid = (value: number | undefined, limit: number) =>
    value !== undefined && Number.isFinite(value) && Math.abs(value) <= limit;
  if (!valid(latitude, 90) || !valid(longitude, 180) || (latitude === 0 && longitude === 0)) return {};
  return { latitude: roundCoordinate(latitude!), longitude: roundCoordinate(longitude!) };
}

const COORDINATE_SCALE = 1e7;
const roundCoordinate = (value: number) => Math.round(value * COORDINATE_SCALE) / COORDINATE_SCALE;

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'dng', 'tif', 'tiff', 'heic', 'heif', 'webp']);
const VIDEO_EXTENSIONS = new Set(['mp4', 'mov', 'm4v', 'avi', 'mkv']);

/** image, video or other (RTK/PPK sidecars, subtitles…), from the content type, else the extension. */
export function mediaTypeOf(contentType: string, name: string): MediaType {
  if (contentType.startsWith('image/')) return 'image';
  if (contentType.startsWith('video/')) return 'video';
  const extension = name.split('.').pop()?.toLowerCase() ?? '';
  if (IMAGE_EXTENSIONS.has(extension)) return 'image';
  if (VIDEO_EXTENSIONS.has(extension)) return 'video';
  return 'other';
}

/** Fingerprints are compared case-insensitively (docs/protocol.md §10.9): stored upper-case. */
function normalizeFingerprint(value: string): string {
  return value.trim().toUpperCase();
}
