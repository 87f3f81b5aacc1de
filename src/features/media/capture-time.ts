/**
 * Capture times as devices give them: ISO with a zone (Pilot's `created_time`), zone-less (the dock's
 * `create_time`, its local clock), or EXIF's colon dates. One parser for device reports, EXIF and the
 * library's rendering, so the rule "only a time that names its zone is placed on the time line"
 * (decision §10.23) is the same everywhere.
 */

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

/**
 * Epoch ms of a capture time that names its zone (`2021-12-02T16:17:07+08:00`, `…Z`). A zone-less time
 * ("2021-05-10 16:04:20", the dock's local clock) cannot be placed on the time line: undefined, and
 * the raw string is kept (decision §10.23).
 */
export function zonedTime(raw: string | undefined): number | undefined {
  const time = normalizeCaptureTime(raw);
  if (!time || time.deviceLocal) return undefined;
  const ms = Date.parse(time.iso);
  return Number.isNaN(ms) ? undefined : ms;
}
