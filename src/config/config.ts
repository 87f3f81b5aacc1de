/**
 * Reads the configuration contract once, at start: the environment, plus an optional JSON file
 * (SKYVAULT_CONFIG) that the environment overrides. Every problem is collected and reported together,
 * one sentence each, as a ConfigError; nothing falls back silently on a bad value.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  parseBoolean,
  parseEnum,
  parseNonEmpty,
  parsePort,
  parsePositiveInt,
  parseUrl,
  SettingProblem,
} from './parsers.ts';
import { SETTING_NAMES, SETTINGS, type SettingName, type SettingSpec } from './settings.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface TlsConfig {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export type DatabaseConfig = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

export interface Config {
  http: {
    host: string;
    port: number;
    /** Fixed public base URL without a trailing slash; undefined = derive from each request. */
    publicUrl: string | undefined;
    trustProxy: boolean | string;
    bodyLimitBytes: number;
    tls: TlsConfig | undefined;
  };
  /** Absolute path. */
  dataDir: string;
  database: DatabaseConfig;
  storage: {
    kind: 'local';
    port: number;
    bucket: string;
    region: string;
    /** Fixed endpoint URL for devices and browsers; undefined = derived per request. */
    publicEndpoint: string | undefined;
    /** `<data dir>/objects`. */
    root: string;
    /** Lifetime of issued upload credentials and download links. */
    credentialTtlSeconds: number;
  };
  mqtt: {
    port: number;
    /** MQTT over TLS, when the HTTP certificate is configured. */
    tlsPort: number;
    publicUrl: string | undefined;
    /** Wait for a device's services_reply (ms), and resends after the first attempt. */
    replyTimeoutMs: number;
    retries: number;
    /** An external broker; undefined = the embedded one. */
    external:
      | {
          url: string;
          username: string | undefined;
          password: string | undefined;
          sharedGroup: string | undefined;
        }
      | undefined;
  };
  /** The operator's DJI developer app (docks' `config` request) and the NTP server docks use. */
  dji: {
    appId: string | undefined;
    appKey: string | undefined;
    appLicense: string | undefined;
    ntpServerHost: string;
    ntpServerPort: number;
  };
  auth: {
    jwtSecret: string | undefined;
    tokenTtlSeconds: number;
    refreshWindowSeconds: number;
  };
  admin: {
    username: string;
    password: string | undefined;
  };
  log: { level: LogLevel };
}

export class ConfigError extends Error {
  readonly problems: string[];
  readonly warnings: string[];
  constructor(problems: string[], warnings: string[] = []) {
    super(`Skyvault cannot start:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
    this.warnings = warnings;
  }
}

export interface LoadConfigOptions {
  env: NodeJS.ProcessEnv;
  /** Directory relative paths are resolved against. */
  cwd: string;
  /** Overrides SKYVAULT_CONFIG (the CLI's --config). */
  configFile?: string | undefined;
}

export interface LoadedConfig {
  config: Config;
  /** Non-fatal remarks for the operator, e.g. an unknown SKYVAULT_ variable. */
  warnings: string[];
}

export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const problems: string[] = [];
  const warnings: string[] = [];
  const values = new Map<SettingName, string>();

  const configFile = options.configFile ?? nonEmpty(options.env.SKYVAULT_CONFIG);
  if (configFile) readConfigFile(path.resolve(options.cwd, configFile), values, problems);
  for (const name of SETTING_NAMES) {
    const raw = options.env[name];
    if (raw !== undefined && raw !== '') values.set(name, raw);
  }
  for (const name of Object.keys(options.env)) {
    if (name.startsWith('SKYVAULT_') && !name.startsWith('SKYVAULT_TEST_') && !(name in SETTINGS)) {
      warnings.push(`${name} is not a Skyvault setting and is ignored${suggest(name)}.`);
    }
  }

  /** Parses one setting; on a problem records the sentence and returns undefined. */
  function get<T>(name: SettingName, parse: (raw: string) => T): T | undefined {
    const spec: SettingSpec = SETTINGS[name];
    const raw = values.get(name) ?? spec.default;
    if (raw === undefined) return undefined;
    try {
      return parse(raw);
    } catch (error) {
      if (error instanceof SettingProblem) {
        problems.push(`${name} ${error.message}.`);
        return undefined;
      }
      throw error;
    }
  }

  const host = get('SKYVAULT_HOST', (raw) => parseNonEmpty(raw, 'an address such as 0.0.0.0'));
  const httpPort = get('SKYVAULT_HTTP_PORT', parsePort);
  const publicUrl = get('SKYVAULT_PUBLIC_URL', (raw) => trimSlash(parseUrl(raw, ['http:', 'https:']).href));
  const trustProxy = get('SKYVAULT_TRUST_PROXY', parseTrustProxy);
  const bodyLimitBytes = get('SKYVAULT_HTTP_BODY_LIMIT', (raw) => parsePositiveInt(raw, 'bytes', 1024 ** 3));
  const tls = readTls(
    get('SKYVAULT_TLS_CERT', String),
    get('SKYVAULT_TLS_KEY', String),
    options.cwd,
    problems,
  );
  const dataDir = path.resolve(options.cwd, get('SKYVAULT_DATA_DIR', String) ?? '.');
  const databaseUrl = get('SKYVAULT_DATABASE_URL', (raw) => {
    const url = parseUrl(raw, ['postgres:', 'postgresql:']);
    if (url.pathname.length <= 1)
      throw new SettingProblem('must name a database, e.g. postgres://host/skyvault');
    return raw;
  });
  const storageKind = get('SKYVAULT_STORAGE', (raw) => {
    const kind = parseEnum(raw, ['local', 'minio', 'aws', 'ali'] as const);
    if (kind !== 'local')
      throw new SettingProblem(`is "${kind}", which this version does not support yet; use local`);
    return kind;
  });
  const storagePort = get('SKYVAULT_STORAGE_PORT', parsePort);
  const bucket = get('SKYVAULT_S3_BUCKET', (raw) => {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(raw) || raw.includes('..')) {
      throw new SettingProblem(
        `must be a valid S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens), not "${raw}"`,
      );
    }
    return raw;
  });
  const region = get('SKYVAULT_S3_REGION', (raw) => {
    if (!/^[a-z0-9-]{2,32}$/.test(raw))
      throw new SettingProblem(`must be a region name such as us-east-1, not "${raw}"`);
    return raw;
  });
  const storagePublicEndpoint = get('SKYVAULT_S3_PUBLIC_ENDPOINT', (raw) =>
    trimSlash(parseUrl(raw, ['http:', 'https:']).href),
  );
  const credentialTtlSeconds = get('SKYVAULT_CREDENTIAL_TTL', (raw) => {
    const seconds = parsePositiveInt(raw, 'seconds', 43_200);
    if (seconds < 900)
      throw new SettingProblem(`must be at least 900 seconds (S3 and MinIO STS minimum), not ${raw}`);
    return seconds;
  });
  const mqttPort = get('SKYVAULT_MQTT_PORT', parsePort);
  const mqttsPort = get('SKYVAULT_MQTTS_PORT', parsePort);
  const mqttUrl = get(
    'SKYVAULT_MQTT_URL',
    (raw) => parseUrl(raw, ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:']).href,
  );
  const mqttUsername = get('SKYVAULT_MQTT_USERNAME', (raw) => raw);
  const replyTimeoutMs = get('SKYVAULT_DEVICE_REPLY_TIMEOUT', (raw) =>
    parsePositiveInt(raw, 'milliseconds', 600_000),
  );
  const deviceRetries = get('SKYVAULT_DEVICE_RETRIES', (raw) => {
    if (!/^\d{1,2}$/.test(raw)) throw new SettingProblem(`must be a whole number from 0 to 99, not "${raw}"`);
    return Number(raw);
  });
  const mqttPassword = get('SKYVAULT_MQTT_PASSWORD', (raw) => raw);
  const mqttSharedGroup = get('SKYVAULT_MQTT_SHARED_GROUP', (raw) => {
    if (raw === 'off') return undefined;
    if (!/^[\w-]{1,64}$/.test(raw)) {
      throw new SettingProblem(`must be 1 to 64 letters, digits, _ or -, or off, not "${raw}"`);
    }
    return raw;
  });
  const mqttPublicUrl = get('SKYVAULT_MQTT_PUBLIC_URL', (raw) =>
    trimSlash(parseUrl(raw, ['tcp:', 'ssl:', 'ws:', 'wss:', 'mqtt:', 'mqtts:']).href),
  );
  const djiAppId = get('SKYVAULT_DJI_APP_ID', (raw) => raw);
  const djiAppKey = get('SKYVAULT_DJI_APP_KEY', (raw) => raw);
  const djiAppLicense = get('SKYVAULT_DJI_APP_LICENSE', (raw) => raw);
  const ntpServer = get('SKYVAULT_NTP_SERVER', (raw) => {
    const match = /^([^\s:]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?$/.exec(raw.trim());
    if (!match || (match[2] !== undefined && (Number(match[2]) < 1 || Number(match[2]) > 65535))) {
      throw new SettingProblem(`must be a host name or host:port, not "${raw}"`);
    }
    return { host: match[1]!, port: match[2] === undefined ? 123 : Number(match[2]) };
  });
  const adminUsername = get('SKYVAULT_ADMIN_USERNAME', (raw) => {
    if (!/^[\w.@-]{1,64}$/.test(raw)) {
      throw new SettingProblem(`must be 1 to 64 letters, digits or . _ @ -, not "${raw}"`);
    }
    return raw;
  });
  const adminPassword = get('SKYVAULT_ADMIN_PASSWORD', (raw) => parseNonEmpty(raw, 'a password', 8));
  const jwtSecret = get('SKYVAULT_JWT_SECRET', (raw) => parseNonEmpty(raw, 'a secret', 32));
  const tokenTtlSeconds = get('SKYVAULT_TOKEN_TTL', (raw) => parsePositiveInt(raw, 'seconds', 365 * 86400));
  const refreshWindowSeconds = get('SKYVAULT_TOKEN_REFRESH_WINDOW', (raw) =>
    parsePositiveInt(raw, 'seconds', 365 * 86400),
  );
  const logLevel = get('SKYVAULT_LOG_LEVEL', (raw) => parseEnum(raw, LOG_LEVELS));

  if (problems.length > 0) throw new ConfigError(problems, warnings);

  const config: Config = {
    http: {
      host: host!,
      port: httpPort!,
      publicUrl,
      trustProxy: trustProxy!,
      bodyLimitBytes: bodyLimitBytes!,
      tls,
    },
    dataDir,
    database: databaseUrl
      ? { kind: 'postgres', url: databaseUrl }
      : { kind: 'sqlite', file: path.join(dataDir, 'skyvault.db') },
    storage: {
      kind: storageKind!,
      port: storagePort!,
      bucket: bucket!,
      region: region!,
      publicEndpoint: storagePublicEndpoint,
      root: path.join(dataDir, 'objects'),
      credentialTtlSeconds: credentialTtlSeconds!,
    },
    mqtt: {
      port: mqttPort!,
      tlsPort: mqttsPort!,
      publicUrl: mqttPublicUrl,
      replyTimeoutMs: replyTimeoutMs ?? 3000,
      retries: deviceRetries ?? 2,
      external: mqttUrl
        ? {
            url: mqttUrl,
            username: mqttUsername,
            password: mqttPassword,
            sharedGroup: mqttSharedGroup,
          }
        : undefined,
    },
    dji: {
      appId: djiAppId,
      appKey: djiAppKey,
      appLicense: djiAppLicense,
      ntpServerHost: ntpServer?.host ?? 'pool.ntp.org',
      ntpServerPort: ntpServer?.port ?? 123,
    },
    auth: { jwtSecret, tokenTtlSeconds: tokenTtlSeconds!, refreshWindowSeconds: refreshWindowSeconds! },
    admin: { username: adminUsername!, password: adminPassword },
    log: { level: logLevel! },
  };
  return { config: deepFreeze(config), warnings };
}

function readConfigFile(file: string, values: Map<SettingName, string>, problems: string[]): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : describe(error);
    problems.push(`The config file ${file} cannot be read: ${reason}.`);
    return;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(
      `The config file ${file} must hold a JSON object of settings, e.g. {"SKYVAULT_HTTP_PORT": 8080}.`,
    );
    return;
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in SETTINGS) || key === 'SKYVAULT_CONFIG') {
      problems.push(
        `The config file ${file} names "${key}", which is not a Skyvault setting${suggest(key)}.`,
      );
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      values.set(key as SettingName, String(value));
    } else if (value !== null) {
      problems.push(
        `The config file ${file} gives ${key} a ${typeof value}; use a string, number or boolean.`,
      );
    }
  }
}

function readTls(
  certFile: string | undefined,
  keyFile: string | undefined,
  cwd: string,
  problems: string[],
): TlsConfig | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    problems.push('SKYVAULT_TLS_CERT and SKYVAULT_TLS_KEY must be set together to serve HTTPS.');
    return undefined;
  }
  const read = (name: string, file: string): Buffer | undefined => {
    try {
      return readFileSync(path.resolve(cwd, file));
    } catch (error) {
      problems.push(`${name} names ${file}, which cannot be read: ${describe(error)}.`);
      return undefined;
    }
  };
  const cert = read('SKYVAULT_TLS_CERT', certFile);
  const key = read('SKYVAULT_TLS_KEY', keyFile);
  if (!cert || !key) return undefined;
  return { certFile: path.resolve(cwd, certFile), keyFile: path.resolve(cwd, keyFile), cert, key };
}

function parseTrustProxy(raw: string): boolean | string {
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
}

function describe(error: unknown): string {
  if (error instanceof SyntaxError) return `it is not valid JSON (${error.message})`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return error instanceof Error ? error.message : String(error);
}

function suggest(name: string): string {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of SETTING_NAMES) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best ? ` (did you mean ${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
