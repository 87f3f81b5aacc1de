/**
 * The capture metadata DJI devices attach to a media file, the same object whether Pilot 2 reports it over
 * HTTP (`upload-callback`) or a dock over MQTT (`file_upload_callback`): altitudes, gimbal yaw, shooting
 * position, and the capture time as `created_time` (ISO, with zone) or `create_time` (zone-less). Owned by
 * neither transport; both wires use it.
 */
import { type Static, Type } from 'typebox';
import { zonedTime } from '../features/media/capture-time.ts';
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

/** Both wires strip `null` members before validation (dji/values.ts withoutNulls): absent is undefined. */
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
    capturedAt: zonedTime(raw),
    capturedAtRaw: raw,
  };
}

/** A text value, or undefined for a missing or blank one. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
