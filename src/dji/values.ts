/**
 * Lenient readers of DJI values: devices send numbers as strings, booleans as 0/1 or "true", and empty
 * strings for "none". Used by every wire parser, whatever the transport; nothing here throws.
 */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string, or a number written as one; undefined for anything else or ''. */
export function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** A finite number, or a numeric string; undefined otherwise. */
export function number(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

export function integer(value: unknown): number | undefined {
  const n = number(value);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

/** DJI booleans: true/false, 1/0, "1"/"0", "true"/"false". */
export function flag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const n = number(value);
  if (n === 0 || n === 1) return n === 1;
  if (value === 'true' || value === 'false') return value === 'true';
  return undefined;
}

/**
 * The value with every `null` member of an object removed, at any depth. Devices send `null` for
 * "absent", and absent is what every wire schema means by an optional field; left in, a validator that
 * coerces types would read it as 0, false or "" (a map pin at latitude 0, say). Array elements are kept.
 */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isRecord(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (member !== null) result[key] = withoutNulls(member);
  }
  return result;
}
