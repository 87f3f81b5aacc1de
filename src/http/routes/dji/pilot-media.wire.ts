/**
 * Wire shapes of DJI Pilot 2's media calls (docs/protocol.md §3) and their translation to the media
 * service's inputs (capture metadata: dji/media-metadata.wire.ts, shared with the dock). Every device
 * quirk stops here: `tinny_fingerprint`, `created_time` (ISO) vs `create_time` ("yyyy-MM-dd HH:mm:ss",
 * zone-less), numbers sent as strings (coerced by the schema), `null` for an absent field (never 0 or
 * false), `is_original` as a boolean or 0/1, tiny fingerprints as an object or a bare array.
 */
import { type Static, Type } from 'typebox';
import { MediaMetadata, metadataOf, nonEmpty } from '../../../dji/media-metadata.wire.ts';
import type { MediaUploadReport } from '../../../features/media/media.service.ts';

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

export const FastUploadBody = Type.Object({
  fingerprint: Type.String({ minLength: 1, maxLength: 128 }),
  name: Type.Optional(Str),
  path: Type.Optional(Str),
  ext: Type.Optional(MediaExt),
});

export const UploadCallbackBody = Type.Object({
  result: Type.Optional(
    Type.Integer({ description: '0 = uploaded to storage; missing or null = 0 (older Pilot versions)' }),
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
  // Optional in DJI's docs: without it the counts belong to no group Skyvault can record.
  file_group_id: Type.Optional(Type.String({ maxLength: 128 })),
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
