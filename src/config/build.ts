/**
 * From parsed settings to the nested Config: the rules that span several settings (TLS certificate and
 * key together, an external broker's credentials only with its URL, paths under the data directory)
 * and the shape the rest of Skyvault reads.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { LogLevel, SettingValues } from './settings.ts';
import type { StorageKind } from './parsers.ts';
import { describe } from './sources.ts';

/** The typed, frozen configuration the rest of Skyvault receives. */
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
    kind: StorageKind;
    /** The embedded store's port (local). */
    port: number;
    bucket: string;
    region: string;
    /** Fixed endpoint URL for devices and browsers; undefined = derived per request. */
    publicEndpoint: string | undefined;
    /** `<data dir>/objects`. */
    root: string;
    /** Lifetime of issued upload credentials and download links. */
    credentialTtlSeconds: number;
    /** The embedded store's root credentials; undefined = generated once and kept in the database. */
    rootCredentials: undefined | { accessKey: string; secretKey: string };
    /** The cloud provider's connection (minio, aws, ali); undefined with the embedded store. */
    cloud: CloudStorageConfig | undefined;
  };
  mqtt: {
    port: number;
    /** MQTT over TLS, when the HTTP certificate is configured. */
    tlsPort: number;
    publicUrl: string | undefined;
    /** Wait for a device's services_reply (ms), and resends after the first attempt. */
    replyTimeoutMs: number;
    retries: number;
    /** The secret of the EMQX authentication/authorization hooks (SKYVAULT_MQTT_HOOK_SECRET); undefined = off. */
    hookSecret: string | undefined;
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
    /** Encrypts secrets kept in the database (SKYVAULT_SECRET_KEY); undefined = the data dir's key file. */
    secretKey: string | undefined;
    tokenTtlSeconds: number;
    refreshWindowSeconds: number;
    /** Absolute lifetime of a login (session), seconds. */
    sessionLifetimeSeconds: number;
    /** log2 of scrypt's N for new password hashes (SKYVAULT_PASSWORD_HASH_COST). */
    passwordHashCost: number;
    /** Password hashes at once, and logins that may wait for one (SKYVAULT_PASSWORD_HASH_*). */
    passwordHashConcurrency: number;
    passwordHashQueue: number;
    /** Failed logins a minute per username and per client address; 0 = no limit (SKYVAULT_LOGIN_LIMIT_*). */
    loginLimitPerAccount: number;
    loginLimitPerAddress: number;
  };
  admin: {
    username: string;
    password: string | undefined;
  };
  log: { level: LogLevel };
  /** The web app: its map's tile URL template (undefined = plain background). */
  web: { mapTiles: string | undefined };
  /** ffmpeg for video posters; undefined = the installed package's, else the PATH's. */
  media: { ffmpegPath: string | undefined };
  /** Remote device logs: seconds without progress after which an upload task fails. */
  logs: { uploadTimeoutSeconds: number };
  /** /metrics for Prometheus: the bearer token it must send (SKYVAULT_METRICS_TOKEN); undefined = off. */
  metrics: { token: string | undefined };
}

export interface CloudStorageConfig {
  /** Where Skyvault reaches it; undefined = the provider's regional endpoint (aws, ali). */
  endpoint: string | undefined;
  /** Where Skyvault calls STS; undefined = the provider's default (settings.ts). */
  stsEndpoint: string | undefined;
  accessKey: string;
  secretKey: string;
  /** The role STS AssumeRole assumes (aws, ali; MinIO ignores it). */
  roleArn: string | undefined;
}

/**
 * The storage settings that go together: the embedded store's root credentials both or neither; a cloud
 * provider's endpoint (minio), keys and role (aws, ali).
 */
export function readStorage(
  s: Partial<SettingValues>,
  problems: string[],
): { rootCredentials: Config['storage']['rootCredentials']; cloud: CloudStorageConfig | undefined } {
  let rootCredentials: Config['storage']['rootCredentials'];
  const rootKey = s.SKYVAULT_STORAGE_ACCESS_KEY;
  const rootSecret = s.SKYVAULT_STORAGE_SECRET_KEY;
  if (rootKey && rootSecret) rootCredentials = { accessKey: rootKey, secretKey: rootSecret };
  else if (rootKey || rootSecret) {
    problems.push('SKYVAULT_STORAGE_ACCESS_KEY and SKYVAULT_STORAGE_SECRET_KEY must be set together.');
  }
  const kind = s.SKYVAULT_STORAGE;
  if (kind === undefined || kind === 'local') return { rootCredentials, cloud: undefined };
  const missing = [
    kind === 'minio' && !s.SKYVAULT_S3_ENDPOINT ? 'SKYVAULT_S3_ENDPOINT' : undefined,
    s.SKYVAULT_S3_ACCESS_KEY ? undefined : 'SKYVAULT_S3_ACCESS_KEY',
    s.SKYVAULT_S3_SECRET_KEY ? undefined : 'SKYVAULT_S3_SECRET_KEY',
    kind !== 'minio' && !s.SKYVAULT_S3_ROLE_ARN ? 'SKYVAULT_S3_ROLE_ARN' : undefined,
  ].filter((name) => name !== undefined);
  if (missing.length > 0) {
    problems.push(`SKYVAULT_STORAGE=${kind} needs ${missing.join(', ')} (docs/storage.md).`);
    return { rootCredentials, cloud: undefined };
  }
  return {
    rootCredentials,
    cloud: {
      endpoint: s.SKYVAULT_S3_ENDPOINT,
      stsEndpoint: s.SKYVAULT_S3_STS_ENDPOINT,
      accessKey: s.SKYVAULT_S3_ACCESS_KEY!,
      secretKey: s.SKYVAULT_S3_SECRET_KEY!,
      roleArn: s.SKYVAULT_S3_ROLE_ARN,
    },
  };
}

/** SKYVAULT_TLS_CERT and SKYVAULT_TLS_KEY: neither (plain HTTP), or both, readable. */
export function readTls(
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

export function buildConfig(
  s: SettingValues,
  tls: TlsConfig | undefined,
  storage: ReturnType<typeof readStorage>,
  cwd: string,
): Config {
  const dataDir = path.resolve(cwd, s.SKYVAULT_DATA_DIR);
  return {
    http: {
      host: s.SKYVAULT_HOST,
      port: s.SKYVAULT_HTTP_PORT,
      publicUrl: s.SKYVAULT_PUBLIC_URL,
      trustProxy: s.SKYVAULT_TRUST_PROXY,
      bodyLimitBytes: s.SKYVAULT_HTTP_BODY_LIMIT,
      tls,
    },
    dataDir,
    database: s.SKYVAULT_DATABASE_URL
      ? { kind: 'postgres', url: s.SKYVAULT_DATABASE_URL }
      : { kind: 'sqlite', file: path.join(dataDir, 'skyvault.db') },
    storage: {
      kind: s.SKYVAULT_STORAGE,
      port: s.SKYVAULT_STORAGE_PORT,
      bucket: s.SKYVAULT_S3_BUCKET,
      region: s.SKYVAULT_S3_REGION,
      publicEndpoint: s.SKYVAULT_S3_PUBLIC_ENDPOINT,
      root: path.join(dataDir, 'objects'),
      credentialTtlSeconds: s.SKYVAULT_CREDENTIAL_TTL,
      rootCredentials: storage.rootCredentials,
      cloud: storage.cloud,
    },
    mqtt: {
      port: s.SKYVAULT_MQTT_PORT,
      tlsPort: s.SKYVAULT_MQTTS_PORT,
      publicUrl: s.SKYVAULT_MQTT_PUBLIC_URL,
      replyTimeoutMs: s.SKYVAULT_DEVICE_REPLY_TIMEOUT,
      retries: s.SKYVAULT_DEVICE_RETRIES,
      hookSecret: s.SKYVAULT_MQTT_HOOK_SECRET,
      external: s.SKYVAULT_MQTT_URL
        ? {
            url: s.SKYVAULT_MQTT_URL,
            username: s.SKYVAULT_MQTT_USERNAME,
            password: s.SKYVAULT_MQTT_PASSWORD,
            sharedGroup: s.SKYVAULT_MQTT_SHARED_GROUP,
          }
        : undefined,
    },
    dji: {
      appId: s.SKYVAULT_DJI_APP_ID,
      appKey: s.SKYVAULT_DJI_APP_KEY,
      appLicense: s.SKYVAULT_DJI_APP_LICENSE,
      ntpServerHost: s.SKYVAULT_NTP_SERVER.host,
      ntpServerPort: s.SKYVAULT_NTP_SERVER.port,
    },
    auth: {
      jwtSecret: s.SKYVAULT_JWT_SECRET,
      secretKey: s.SKYVAULT_SECRET_KEY,
      tokenTtlSeconds: s.SKYVAULT_TOKEN_TTL,
      refreshWindowSeconds: s.SKYVAULT_TOKEN_REFRESH_WINDOW,
      sessionLifetimeSeconds: s.SKYVAULT_SESSION_LIFETIME,
      passwordHashCost: s.SKYVAULT_PASSWORD_HASH_COST,
      passwordHashConcurrency: s.SKYVAULT_PASSWORD_HASH_CONCURRENCY,
      passwordHashQueue: s.SKYVAULT_PASSWORD_HASH_QUEUE,
      loginLimitPerAccount: s.SKYVAULT_LOGIN_LIMIT_ACCOUNT,
      loginLimitPerAddress: s.SKYVAULT_LOGIN_LIMIT_ADDRESS,
    },
    admin: { username: s.SKYVAULT_ADMIN_USERNAME, password: s.SKYVAULT_ADMIN_PASSWORD },
    log: { level: s.SKYVAULT_LOG_LEVEL },
    web: { mapTiles: s.SKYVAULT_MAP_TILES },
    media: { ffmpegPath: s.SKYVAULT_FFMPEG },
    logs: { uploadTimeoutSeconds: s.SKYVAULT_LOG_UPLOAD_TIMEOUT },
    metrics: { token: s.SKYVAULT_METRICS_TOKEN },
  };
}
