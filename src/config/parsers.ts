/**
 * Small value parsers for environment settings. Each returns the parsed value or throws a
 * `SettingProblem` whose text completes the sentence "SKYVAULT_X …" for the operator.
 *
 * Hand-written rather than a schema library: the product's promise is one plain sentence per bad
 * setting, naming the variable, the value and what would be accepted; generic validator messages
 * ("must match format uri") do not say that.
 */
export class SettingProblem extends Error {}

export function parsePort(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new SettingProblem(`must be a port number from 0 to 65535, not "${raw}"`);
  const port = Number(raw);
  if (port > 65535) throw new SettingProblem(`must be a port number from 0 to 65535, not ${raw}`);
  return port;
}

export function parsePositiveInt(raw: string, unit: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new SettingProblem(`must be a whole number of ${unit} from 1 to ${max}, not "${raw}"`);
  }
  return Number(raw);
}

export function parseEnum<T extends string>(raw: string, allowed: readonly T[]): T {
  const value = raw.trim().toLowerCase();
  if (!(allowed as readonly string[]).includes(value)) {
    throw new SettingProblem(`must be one of ${allowed.join(', ')}, not "${raw}"`);
  }
  return value as T;
}

export function parseUrl(raw: string, protocols: readonly string[]): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SettingProblem(`must be a URL such as ${protocols[0]}//host:port, not "${raw}"`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new SettingProblem(`must start with ${protocols.map((p) => `${p}//`).join(' or ')}, not "${raw}"`);
  }
  return url;
}

export function parseNonEmpty(raw: string, what: string, minLength = 1): string {
  if (raw.length < minLength) {
    throw new SettingProblem(
      minLength > 1 ? `must be at least ${minLength} characters long` : `must not be empty (${what})`,
    );
  }
  return raw;
}

export function parseBoolean(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new SettingProblem(`must be true or false, not "${raw}"`);
}

/** Hides the password of a URL such as postgres://user:secret@host/db, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
