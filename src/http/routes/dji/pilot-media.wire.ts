/**
 * Wire shapes of DJI Pilot 2's media calls (dji-protocol.md §3) and their translation to the media
 * service's inputs. Every device quirk stops here: `tinny_fingerprint`, `created_time` (ISO) vs
 * `create_time` ("yyyy-MM-dd HH:mm:ss", zone-less), numbers sent as strings (coerced by the schema),
 * `is_original` as a boolean or 0/1, tiny fingerprints as an object or a bare array.
 */
import { type Static, Type } from 'typebox';
import {
  type CaptureMetadata,
  capturePosition,
  type MediaUploadReport,
} from '../../../features/media/media.service.ts';

const Num = Type.Number();
const Str = Type.String({ maxLength: 1024 });

export const MediaExt = Type.Object({
  file_group_id: Type.Optional(Type.String({ maxLength: 128 })),
  drone_model_key: Type.Optional(Type.String({ maxLength: 32 })),
  payload_model_key: Type.Optional(Type.String({ maxLength: 32 })),
  is_original: Type.Optional(Type.Boolean()),
  tinny_fingerprint: Type.Optional(Type.String({ maxLength: 256 })),
  tiny_fingerprint: Type.Optional(Type.String({ maxLength: 256 })),
  sn: Type.Optional(Type.String({ maxLength: 64 })),
});

export const MediaMetadata = Type.Object({
  absolute_altitude: Type.Optional(Num),
  relative_altitude: Type.Optional(Num),
  gimbal_yaw_degree: Type.Optional(Num),
  created_time: Type.Optional(Type.String({ maxLength: 64 })),
  create_time: Type.Optional(Type.String({ maxLength: 64 })),
  shoot_position: Type.Optional(Type.Object({ lat: Type.Optional(Num), lng: Type.Optional(Num) })),
});

export const FastUploadBody = Type.Object({
  fingerprint: Type.String({ minLength: 1, maxLength: 128 }),
  name: Type.Optional(Str),
  path: Type.Optional(Str),
  ext: Type.Optional(MediaExt),
});

export const UploadCallbackBody = Type.Object({
  result: Type.Optional(
    Type.Integer({ description: '0 = uploaded to storage; missing = 0 (older Pilot versions)' }),
  ),
  name: Type.String({ minLength: 1, maxLength: 512 }),
  path: Type.Optional(Str),
  object_key: Type.String({ minLength: 1, maxLength: 1024 }),
  fingerprint: Type.Optional(Type.String({ maxLength: 128 })),
  sub_file_type: Type.Optional(Type.Integer()),
  ext: Type.Optional(MediaExt),
  metadata: Type.Optional(MediaMetadata),
});

export const GroupUploadCallbackBody = Type.Object({
  file_group_id: Type.String({ minLength: 1, maxLength: 128 }),
  file_count: Type.Integer({ minimum: 0 }),
  file_uploaded_count: Type.Integer({ minimum: 0 }),
});

/** Up to 100,000 tiny fingerprints per call; the documented object form or a bare array (§10.8). */
const TinyList = Type.Array(Type.String({ maxLength: 256 }), { maxItems: 100_000 });
export const TinyFingerprintsBody = Type.Union([Type.Object({ tiny_fingerprints: TinyList }), TinyList]);
/** Older Pilot versions call with GET and `tiny_fingerprint` (singular), repeated or comma-separated. */
export const TinyFingerprintsQuery = Type.Object({
  tiny_fingerprint: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  tiny_fingerprints: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
});

export function tinyFingerprintsOf(body: Static<typeof TinyFingerprintsBody>): string[] {
  return Array.isArray(body) ? body : body.tiny_fingerprints;
}

export function tinyFingerprintsOfQuery(query: Static<typeof TinyFingerprintsQuery>): string[] {
  return [query.tiny_fingerprint, query.tiny_fingerprints]
    .flat()
    .filter((v): v is string => typeof v === 'string')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export function uploadReportOf(body: Static<typeof UploadCallbackBody>): MediaUploadReport {
  const ext = body.ext ?? {};
  return {
    source: 'pilot',
    result: body.result ?? 0,
    objectKey: body.object_key,
    name: body.name,
    path: body.path ?? '',
    fingerprint: nonEmpty(body.fingerprint),
    tinyFingerprint: nonEmpty(ext.tinny_fingerprint ?? ext.tiny_fingerprint),
    isOriginal: ext.is_original ?? true,
    subFileType: body.sub_file_type,
    fileGroupId: nonEmpty(ext.file_group_id),
    droneSn: nonEmpty(ext.sn),
    droneModelKey: nonEmpty(ext.drone_model_key),
    payloadModelKey: nonEmpty(ext.payload_model_key),
    metadata: metadataOf(body.metadata),
  };
}

export function metadataOf(metadata: Static<typeof MediaMetadata> | undefined): CaptureMetadata {
  if (!metadata) return {};
  const raw = nonEmpty(metadata.created_time ?? metadata.create_time);
  const { latitude, longitude } = capturePosition(metadata.shoot_position?.lat, metadata.shoot_position?.lng);
  return {
    latitude,
    longitude,
    absoluteAltitude: metadata.absolute_altitude,
    relativeAltitude: metadata.relative_altitude,
    gimbalYawDegree: metadata.gimbal_yaw_degree,
    capturedAt: raw ? zonedTime(raw) : undefined,
    capturedAtRaw: raw,
  };
}

/**
 * Epoch ms of a capture time that names its zone (`2021-12-02T16:17:07+08:00`, `…Z`). A zone-less time
 * ("2021-05-10 16:04:20", the dock's local clock) cannot be placed on the time line: undefined, and
 * the raw string is kept (decision §10.23).
 */
export function zonedTime(raw: string): number | undefined {
  if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(raw.trim())) return undefined;
  const ms = Date.parse(raw.trim());
  return Number.isNaN(ms) ? undefined : ms;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
