/**
 * Wire shapes of the dock's media messages (docs/protocol.md §4) and their translation to the media
 * service's inputs. Same leniency as Pilot's HTTP wire, with the capture metadata both use
 * (dji/media-metadata.wire.ts): numbers as strings, `is_original` as a boolean or 0/1, `create_time`
 * or `created_time`, undocumented `result`/`progress`/`cloud_to_cloud_id`. PPK/RTK sidecars come without metadata.
 */
import { type Static, type TSchema, Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { MediaUploadReport } from '../../features/media/media.service.ts';
import { MediaMetadata, metadataOf, nonEmpty } from '../../dji/media-metadata.wire.ts';
import { withoutNulls } from '../../dji/values.ts';

const DockFileExt = Type.Object({
  flight_id: Type.Optional(Type.String({ maxLength: 128 })),
  drone_model_key: Type.Optional(Type.String({ maxLength: 32 })),
  payload_model_key: Type.Optional(Type.String({ maxLength: 32 })),
  is_original: Type.Optional(Type.Boolean()),
});

const FileUploadCallbackData = Type.Object({
  result: Type.Optional(Type.Integer()),
  file: Type.Object({
    object_key: Type.String({ minLength: 1, maxLength: 1024 }),
    // Docs make it required, but a callback without it still names an object that is in storage.
    name: Type.Optional(Type.String({ maxLength: 512 })),
    path: Type.Optional(Type.String({ maxLength: 1024 })),
    ext: Type.Optional(DockFileExt),
    metadata: Type.Optional(MediaMetadata),
  }),
});

const FlightIdData = Type.Object({ flight_id: Type.String({ minLength: 1, maxLength: 128 }) });

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A compiled validator (checking every dock message dynamically cost more than handling it). */
function parser<S extends TSchema>(schema: S): (data: unknown) => Parsed<Static<S>> {
  const validator = Compile(schema);
  return (data) => {
    const converted = validator.Convert(data);
    if (validator.Check(converted)) return { ok: true, value: converted as Static<S> };
    const first = validator.Errors(converted)[0];
    return { ok: false, reason: first ? `${first.instancePath || 'data'} ${first.message}` : 'invalid data' };
  };
}

const parseFileUploadCallback = parser(FileUploadCallbackData);
const parseFlightId = parser(FlightIdData);

/** A dock's upload report, without the aircraft SN (the payload has none: taken from the registry). */
export type DockUploadReport = Omit<MediaUploadReport, 'droneSn'>;

/** `file_upload_callback` data → the media service's report. */
export function dockUploadReportOf(data: unknown): Parsed<DockUploadReport> {
  const parsed = parseFileUploadCallback(withoutNulls(data));
  if (!parsed.ok) return parsed;
  const { result, file } = parsed.value;
  const ext = file.ext ?? {};
  // The dock's own path when it sends one, else the key's directory, as DJI's demo does (§10.24).
  const directory = file.object_key.includes('/')
    ? file.object_key.slice(0, file.object_key.lastIndexOf('/'))
    : '';
  // Without a name, the key's last segment is the file's name.
  const name = nonEmpty(file.name) ?? file.object_key.slice(file.object_key.lastIndexOf('/') + 1);
  if (!name) return { ok: false, reason: '/file/object_key names no file (it ends with "/")' };
  return {
    ok: true,
    value: {
      source: 'dock',
      result: result ?? 0,
      objectKey: file.object_key,
      name,
      path: nonEmpty(file.path) ?? directory,
      isOriginal: ext.is_original ?? true,
      fileGroupId: nonEmpty(ext.flight_id),
      droneModelKey: nonEmpty(ext.drone_model_key),
      payloadModelKey: nonEmpty(ext.payload_model_key),
      metadata: metadataOf(file.metadata),
    },
  };
}

/** `highest_priority_upload_flighttask_media` data → the flight id. */
export function flightIdOf(data: unknown): Parsed<string> {
  const parsed = parseFlightId(withoutNulls(data));
  return parsed.ok ? { ok: true, value: parsed.value.flight_id } : parsed;
}
