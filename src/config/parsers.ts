/**
 * Value parsers for settings. Each `Parser` returns the parsed value or throws a `SettingProblem` whose
 * text completes the sentence "SKYVAULT_X …" for the operator. The functions taking bounds (`port`
 * needs none, `positiveInt(unit, max)` does) return the parser a SETTINGS entry carries.
 *
 * Hand-written rather than a schema library: the product's promise is one plain sentence per bad
 * setting, naming the variable, the value and what would be accepted; generic validator messages
 * ("must match format uri") do not say that. A secret's parser must never echo the value.
 */
export class SettingProblem extends Error {}

/** Turns the raw string an operator wrote into a value, or throws a SettingProblem. */
export type Parser<T> = (raw: string) => T;

/** Any string, as written. */
export const text: Parser<string> = (raw) => raw;

/** At least `minLength` characters; `what` names the expected value in the message for an empty one. */
export function nonEmpty(what: string, minLength = 1): Parser<string> {
  return (raw) => {
    if (raw.length < minLength) {
      throw new SettingProblem(
        minLength > 1 ? `must be at least ${minLength} characters long` : `must not be empty (${what})`,
      );
    }
    return raw;
  };
}

/** A TCP port; 0 asks the system for a free one. */
export const port: Parser<number> = (raw) => {
  if (!/^\d+$/.test(raw)) throw new SettingProblem(`must be a port number from 0 to 65535, not "${raw}"`);
  const value = Number(raw);
  if (value > 65535) throw new SettingProblem(`must be a port number from 0 to 65535, not ${raw}`);
  return value;
};

/**
 * A whole number of `unit` from 1 to `max`; `floor`, if given, raises the minimum with its own reason
 * ("must be at least 900 seconds (S3 and MinIO STS minimum)").
 */
export function positiveInt(
  unit: string,
  max: number,
  floor?: { min: number; reason: string },
): Parser<number> {
  return (raw) => {
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
      throw new SettingProblem(`must be a whole number of ${unit} from 1 to ${max}, not "${raw}"`);
    }
    const value = Number(raw);
    if (floor && value < floor.min) {
      throw new SettingProblem(`must be at least ${floor.min} ${unit} (${floor.reason}), not ${raw}`);
    }
    return value;
  };
}

/** A count from `min` to `max` (non-negative), written with at most as many digits as `max`. */
export function intInRange(min: number, max: number): Parser<number> {
  const digits = new RegExp(`^\\d{1,${String(max).length}}$`);
  return (raw) => {
    if (!digits.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new SettingProblem(`must be a whole number from ${min} to ${max}, not "${raw}"`);
    }
    return Number(raw);
  };
}

/** One of `allowed`, case-insensitively. */
export function oneOf<T extends string>(allowed: readonly T[]): Parser<T> {
  return (raw) => parseEnum(raw, allowed);
}

/** An absolute URL with one of `protocols`, normalised, without a trailing slash. */
export function baseUrl(protocols: readonly string[]): Parser<string> {
  return (raw) => parseUrl(raw, protocols).href.replace(/\/+$/, '');
}

/** An absolute URL with one of `protocols`, normalised. */
export function url(protocols: readonly string[]): Parser<string> {
  return (raw) => parseUrl(raw, protocols).href;
}

/** A PostgreSQL connection URL naming a database, kept as written. */
export const postgresUrl: Parser<string> = (raw) => {
  const parsed = parseUrl(raw, ['postgres:', 'postgresql:']);
  if (parsed.pathname.length <= 1) {
    throw new SettingProblem('must name a database, e.g. postgres://host/skyvault');
  }
  return raw;
};

/** The object storage kinds: the embedded store, or a cloud provider through its own STS. */
export type StorageKind = 'local' | 'minio' | 'aws' | 'ali';

export const storageKind: Parser<StorageKind> = (raw) =>
  parseEnum(raw, ['local', 'minio', 'aws', 'ali'] as const);

/** An S3 access key id: letters, digits and a few signs, 3 to 128 characters. */
export const accessKeyId: Parser<string> = (raw) => {
  if (!/^[A-Za-z0-9._~+=/-]{3,128}$/.test(raw)) {
    throw new SettingProblem('must be an access key id (3 to 128 letters, digits or ._~+=/-)');
  }
  return raw;
};

export const bucketName: Parser<string> = (raw) => {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(raw) || raw.includes('..')) {
    throw new SettingProblem(
      `must be a valid S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens), not "${raw}"`,
    );
  }
  return raw;
};

export const regionName: Parser<string> = (raw) => {
  if (!/^[a-z0-9-]{2,32}$/.test(raw)) {
    throw new SettingProblem(`must be a region name such as us-east-1, not "${raw}"`);
  }
  return raw;
};

/** Fastify's trustProxy: a boolean, or a comma list of addresses, CIDR ranges and range names. */
export const trustProxy: Parser<boolean | string> = (raw) => {
  const value = raw.trim();
  if (/^(true|false|yes|no|on|off|1|0)$/i.test(value)) return parseBoolean(value);
  const parts = value.split(',').map((p) => p.trim());
  for (const part of parts) {
    if (!/^(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?)$/.test(part)) {
      throw new SettingProblem(
        `must be true, false or a comma list of addresses, CIDR ranges, loopback, linklocal and uniquelocal; "${part}" is none of these`,
      );
    }
  }
  return parts.join(',');
};

/** An MQTT shared-subscription group name; `off` gives undefined (no shared subscriptions). */
export const sharedGroup: Parser<string | undefined> = (raw) => {
  if (raw === 'off') return undefined;
  if (!/^[\w-]{1,64}$/.test(raw)) {
    throw new SettingProblem(`must be 1 to 64 letters, digits, _ or -, or off, not "${raw}"`);
  }
  return raw;
};

/** `host`, `host:port` or `[v6]:port`; the port defaults to `defaultPort`. */
export function hostAndPort(defaultPort: number): Parser<{ host: string; port: number }> {
  return (raw) => {
    const match = /^([^\s:]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/.exec(raw.trim());
    if (!match || (match[2] !== undefined && (Number(match[2]) < 1 || Number(match[2]) > 65535))) {
      throw new SettingProblem(`must be a host name or host:port, not "${raw}"`);
    }
    return { host: match[1]!, port: match[2] === undefined ? defaultPort : Number(match[2]) };
  };
}

export const username: Parser<string> = (raw) => {
  if (!/^[\w.@-]{1,64}$/.test(raw)) {
    throw new SettingProblem(`must be 1 to 64 letters, digits or . _ @ -, not "${raw}"`);
  }
  return raw;
};

export function parseEnum<T extends string>(raw: string, allowed: readonly T[]): T {
  const value = raw.trim().toLowerCase();
  if (!(allowed as readonly string[]).includes(value)) {
    throw new SettingProblem(`must be one of ${allowed.join(', ')}, not "${raw}"`);
  }
  return value as T;
}

export function parseUrl(raw: string, protocols: readonly string[]): URL {
  let parsed: URL;
  // A URL may carry a password (postgres://user:secret@host): messages show it masked.
  try {
    parsed = new URL(raw);
  } catch {
    throw new SettingProblem(`must be a URL such as ${protocols[0]}//host:port, not "${maskPassword(raw)}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new SettingProblem(
      `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, not "${maskPassword(raw)}"`,
    );
  }
  return parsed;
}

/** The text with the password of a `scheme://user:password@` prefix masked, whether it parses or not. */
function maskPassword(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/]*@/i, '$1***@');
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
