/**
 * The capture metadata DJI devices attach to a media file, the same object whether Pilot 2 reports it over
 * HTTP (`upload-callback`) or a dock over MQTT (`file_upload_callback`): altitudes, gimbal yaw, shooting
 * position, and the capture time as `created_time` (ISO, with zone) or `create_time` (zone-less). Owned by
 * neither transport; both wires use it.
 */
import { type Static, Type } from 'typebox';
import { type CaptureMetadata, capturePosition } from '../features/media/media.service.ts';

const Num = Type.Number();

export const MediaMetadata = Type.Object({
  absolute_altitude: Type.Optional(Num),
  relative_altitude: Type.Optional(Num),
  gimbal_yaw_degree: Type.Optional(Num),
  created_time: Type.Optional(Type.String({ maxLength: 64 })),
  create_time: Type.Optional(Type.String({ maxLength: 64 })),
  shoot_position: Type.Optional(Type.Object({ lat: Type.Optional(Num), lng: Type.Optional(Num) })),
});

export function metadataOf(metadata: Static<typeof MediaMetadata> | null | undefined): CaptureMetadata {
  if (!metadata) return {};
  const raw = nonEmpty(metadata.created_time ?? metadata.create_time);
  const position = metadata.shoot_position;
  const { latitude, longitude } = capturePosition(position?.lat ?? undefined, position?.lng ?? undefined);
  return {
    latitude,
    longitude,
    absoluteAltitude: metadata.absolute_altitude ?? undefined,
    relativeAltitude: metadata.relative_altitude ?? undefined,
    gimbalYawDegree: metadata.gimbal_yaw_degree ?? undefined,
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

/** A text value, or undefined for a missing, null or blank one. */
export function nonEmpty(value: string | null | undefined): string | undefined {
  return value === undefined || value === null || value.trim() === '' ? undefined : value;
}

/** A capture time in one form: ISO 8601, with the device's zone when it gave one. */
export interface NormalizedCaptureTime {
  /** `2021-12-02T16:17:07+08:00`, or `2021-05-10T16:04:20` (no zone) for a device-local time. */
  iso: string;
  /** True when the device gave no zone: the time is its local clock, wherever it was (§10.23). */
  deviceLocal: boolean;
}

// yyyy-MM-dd, or EXIF's yyyy:MM:dd; T or a space; seconds; optional fraction; optional zone.
const CAPTURE_TIME =
  /^(\d{4})[-:](\d{2})[-:](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * The raw capture time devices send (`created_time` ISO with zone, `create_time` zone-less, EXIF's colon
 * dates), normalised; undefined when it is none of these (the raw value is kept either way).
 */
export function normalizeCaptureTime(raw: string | null | undefined): NormalizedCaptureTime | undefined {
  const match = raw ? CAPTURE_TIME.exec(raw.trim()) : null;
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  const wall = `${year}-${month}-${day}T${hour}:${minute}:${second}${fraction ?? ''}`;
  if (!zone) return { iso: wall, deviceLocal: true };
  const offset =
    zone.toUpperCase() === 'Z'
      ? '+00:00'
      : zone.includes(':')
        ? zone
        : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return { iso: `${wall}${offset}`, deviceLocal: false };
}
