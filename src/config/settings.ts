/**
 * The configuration contract (product.md, "Configuration contract"): every setting Skyvault reads, its
 * default, its meaning and how its value is parsed. docs/configuration.md documents exactly these names
 * (a test checks it); loadConfig parses each one with its `parse` and builds the Config from the results.
 */
import {
  accessKeyId,
  baseUrl,
  bucketName,
  hostAndPort,
  intInRange,
  nonEmpty,
  oneOf,
  type Parser,
  port,
  positiveInt,
  postgresUrl,
  regionName,
  sharedGroup,
  storageKind,
  text,
  trustProxy,
  url,
  username,
} from './parsers.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface SettingSpec {
  /** Default as the operator would write it; undefined when unset by default. */
  default?: string;
  /** One line for the docs. */
  doc: string;
  /** Secrets are never printed or logged, and their parser never echoes them. */
  secret?: boolean;
  /** Parses the raw value (or the default); its messages complete "SKYVAULT_X …". */
  parse: Parser<unknown>;
}

export const SETTINGS = {
  SKYVAULT_CONFIG: {
    doc: 'Path of an optional JSON config file whose keys are these variable names; the environment wins over it.',
    parse: text,
  },
  SKYVAULT_HOST: {
    default: '0.0.0.0',
    doc: 'Address the HTTP listener binds to.',
    parse: nonEmpty('an address such as 0.0.0.0'),
  },
  SKYVAULT_HTTP_PORT: {
    default: '8080',
    doc: 'HTTP port; 0 picks a free port (the chosen port is printed).',
    parse: port,
  },
  SKYVAULT_PUBLIC_URL: {
    doc: 'Base URL devices and browsers use to reach the HTTP API; derived from each request (Host, X-Forwarded-*) when unset.',
    parse: baseUrl(['http:', 'https:']),
  },
  SKYVAULT_TRUST_PROXY: {
    default: 'loopback,linklocal,uniquelocal',
    doc: 'Which peers may set X-Forwarded-* headers: true, false, or a comma list of addresses, CIDR ranges and the names loopback, linklocal, uniquelocal.',
    parse: trustProxy,
  },
  SKYVAULT_HTTP_BODY_LIMIT: {
    default: '1048576',
    doc: 'Largest JSON request body accepted, in bytes; larger bodies get HTTP 413.',
    parse: positiveInt('bytes', 1024 ** 3),
  },
  SKYVAULT_TLS_CERT: {
    doc: 'PEM certificate (chain) file; with SKYVAULT_TLS_KEY the HTTP listener serves HTTPS directly.',
    parse: text,
  },
  SKYVAULT_TLS_KEY: { doc: 'PEM private key file for SKYVAULT_TLS_CERT.', secret: true, parse: text },
  SKYVAULT_DATA_DIR: {
    default: './data',
    doc: 'Directory for the SQLite database, the embedded object store and generated secrets.',
    parse: text,
  },
  SKYVAULT_DATABASE_URL: {
    doc: 'postgres://user:password@host:port/database selects PostgreSQL; unset means SQLite in the data directory. Its password is masked wherever the URL is printed.',
    parse: postgresUrl,
  },
  SKYVAULT_STORAGE: {
    default: 'local',
    doc: 'Object storage: local (the embedded S3-compatible store in the data directory), minio (a MinIO server), aws (Amazon S3) or ali (Aliyun OSS); the cloud ones need SKYVAULT_S3_ENDPOINT (minio), SKYVAULT_S3_ACCESS_KEY, SKYVAULT_S3_SECRET_KEY and, for aws and ali, SKYVAULT_S3_ROLE_ARN (docs/storage.md).',
    parse: storageKind,
  },
  SKYVAULT_STORAGE_PORT: {
    default: '9000',
    doc: 'Port of the embedded S3 endpoint devices upload to (local storage); 0 picks a free port.',
    parse: port,
  },
  SKYVAULT_STORAGE_ACCESS_KEY: {
    doc: "Access key of the embedded store's root credentials, for S3 clients and other Skyvault instances (SKYVAULT_STORAGE=minio pointed at this one); unset generates one on first start, printed once.",
    parse: accessKeyId,
  },
  SKYVAULT_STORAGE_SECRET_KEY: {
    doc: 'Secret key of those root credentials (at least 16 characters); set it with SKYVAULT_STORAGE_ACCESS_KEY.',
    secret: true,
    parse: nonEmpty('a secret', 16),
  },
  SKYVAULT_S3_ENDPOINT: {
    doc: "URL Skyvault reaches the cloud storage at (minio: required, e.g. http://minio:9000; aws and ali: unset for the region's endpoint, such as https://oss-cn-hangzhou.aliyuncs.com). Devices and browsers are told SKYVAULT_S3_PUBLIC_ENDPOINT when it differs.",
    parse: baseUrl(['http:', 'https:']),
  },
  SKYVAULT_S3_STS_ENDPOINT: {
    doc: "URL Skyvault calls STS AssumeRole at; unset: minio's is SKYVAULT_S3_ENDPOINT, aws's is SKYVAULT_S3_ENDPOINT when set, else the region's STS, ali's is https://sts.<region>.aliyuncs.com.",
    parse: baseUrl(['http:', 'https:']),
  },
  SKYVAULT_S3_ACCESS_KEY: {
    doc: 'Access key Skyvault signs its storage and STS requests with (minio, aws, ali).',
    parse: accessKeyId,
  },
  SKYVAULT_S3_SECRET_KEY: { doc: 'Secret key of SKYVAULT_S3_ACCESS_KEY.', secret: true, parse: text },
  SKYVAULT_S3_ROLE_ARN: {
    doc: 'Role assumed (STS AssumeRole) for the temporary credentials devices receive: required for aws (arn:aws:iam::…) and ali (acs:ram::…); MinIO ignores it.',
    parse: text,
  },
  SKYVAULT_S3_BUCKET: {
    default: 'skyvault',
    doc: 'Bucket name; the embedded store serves this one bucket.',
    parse: bucketName,
  },
  SKYVAULT_S3_REGION: {
    default: 'us-east-1',
    doc: 'Region clients sign requests for and devices are told (ali: cn-hangzhou or oss-cn-hangzhou alike).',
    parse: regionName,
  },
  SKYVAULT_S3_PUBLIC_ENDPOINT: {
    doc: 'Storage URL devices and browsers are told (http:// or https://); derived from the host they used to reach Skyvault and SKYVAULT_STORAGE_PORT when unset.',
    parse: baseUrl(['http:', 'https:']),
  },
  SKYVAULT_CREDENTIAL_TTL: {
    default: '3600',
    doc: 'Lifetime of the upload credentials devices receive and of download links, in seconds (900 to 43200).',
    parse: positiveInt('seconds', 43_200, { min: 900, reason: 'S3 and MinIO STS minimum' }),
  },
  SKYVAULT_MQTT_URL: {
    doc: 'External MQTT broker (mqtt://, mqtts://, ws:// or wss://; EMQX, Mosquitto…); unset runs the embedded broker.',
    parse: url(['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:']),
  },
  SKYVAULT_MQTT_USERNAME: { doc: 'Username Skyvault logs in to the external broker with.', parse: text },
  SKYVAULT_MQTT_PASSWORD: { doc: 'Password for SKYVAULT_MQTT_USERNAME.', secret: true, parse: text },
  SKYVAULT_MQTT_SHARED_GROUP: {
    default: 'skyvault',
    doc: 'Shared-subscription group ($share/<group>/…) through which Skyvault instances split device messages on an external broker, each handled once; `off` turns shared subscriptions off (every instance then gets every message).',
    parse: sharedGroup,
  },
  SKYVAULT_MQTT_HOOK_SECRET: {
    doc: 'Shared secret (at least 32 characters) that an external broker (EMQX) sends in the x-skyvault-hook-secret header when it asks Skyvault to authenticate and authorize MQTT clients (/api/v1/mqtt/hooks/…); unset turns those endpoints off. With it and no SKYVAULT_MQTT_USERNAME, Skyvault logs in to the broker as its own internal principal.',
    secret: true,
    parse: nonEmpty('a secret', 32),
  },
  SKYVAULT_MQTT_PORT: { default: '1883', doc: 'Embedded MQTT broker TCP port.', parse: port },
  SKYVAULT_MQTTS_PORT: {
    default: '8883',
    doc: 'Embedded MQTT broker port for MQTT over TLS, opened when SKYVAULT_TLS_CERT and SKYVAULT_TLS_KEY are set (same certificate).',
    parse: port,
  },
  SKYVAULT_DEVICE_REPLY_TIMEOUT: {
    default: '3000',
    doc: 'How long Skyvault waits for a device to answer a command (MQTT services_reply), in milliseconds.',
    parse: positiveInt('milliseconds', 600_000),
  },
  SKYVAULT_DEVICE_RETRIES: {
    default: '2',
    doc: 'How many times a command a device did not answer is sent again (new tid, same bid).',
    parse: intInRange(0, 99),
  },
  SKYVAULT_MQTT_PUBLIC_URL: {
    doc: 'MQTT address devices are told (tcp://, ssl://, ws:// or wss://); derived from the HTTP host and SKYVAULT_MQTT_PORT when unset.',
    parse: baseUrl(['tcp:', 'ssl:', 'ws:', 'wss:', 'mqtt:', 'mqtts:']),
  },
  SKYVAULT_DJI_APP_ID: {
    doc: 'App ID of your DJI developer "Cloud API" app; docks ask for it (with the key and licence) before binding and disconnect without it.',
    parse: text,
  },
  SKYVAULT_DJI_APP_KEY: { doc: 'App key of that DJI app.', secret: true, parse: text },
  SKYVAULT_DJI_APP_LICENSE: { doc: 'App licence of that DJI app.', secret: true, parse: text },
  SKYVAULT_NTP_SERVER: {
    default: 'pool.ntp.org',
    doc: 'NTP server docks are told to set their clocks from (host or host:port).',
    parse: hostAndPort(123),
  },
  SKYVAULT_ADMIN_USERNAME: {
    default: 'admin',
    doc: 'Username of the admin user created on first start in the default workspace.',
    parse: username,
  },
  SKYVAULT_ADMIN_PASSWORD: {
    doc: 'Password of that admin user on first start; unset generates one and prints it once.',
    secret: true,
    parse: nonEmpty('a password', 8),
  },
  SKYVAULT_JWT_SECRET: {
    doc: 'Key that signs access tokens (at least 32 characters); unset generates one on first start and keeps it in the database.',
    secret: true,
    parse: nonEmpty('a secret', 32),
  },
  SKYVAULT_SECRET_KEY: {
    doc: 'Key (at least 32 characters) that encrypts device MQTT passwords in the database; unset generates one into secret.key in the data directory. Several instances on one database need the same key: set it on all of them.',
    secret: true,
    parse: nonEmpty('a secret', 32),
  },
  SKYVAULT_TOKEN_TTL: {
    default: '86400',
    doc: 'Lifetime of an access token, in seconds.',
    parse: positiveInt('seconds', 365 * 86400),
  },
  SKYVAULT_TOKEN_REFRESH_WINDOW: {
    default: '604800',
    doc: 'How long after expiry a token may still be exchanged for a new one at token/refresh, in seconds.',
    parse: positiveInt('seconds', 365 * 86400),
  },
  SKYVAULT_SESSION_LIFETIME: {
    default: '2592000',
    doc: 'Absolute lifetime of a login, in seconds (30 days by default): refreshing its token never extends it past this, and then the user logs in again. Keep it longer than a mission: Pilot 2 leaves the cloud when its session ends. Logout, a password change, disabling or removing the user end sessions at once.',
    parse: positiveInt('seconds', 365 * 86400),
  },
  SKYVAULT_PASSWORD_HASH_COST: {
    default: '15',
    doc: 'Cost of password hashing: log2 of the scrypt work factor N, from 10 to 20; each step doubles time and memory (15 takes 32 MiB). Tests and small devices may lower it. Existing hashes keep the cost they were made with, which is stored in the hash.',
    parse: intInRange(10, 20),
  },
  SKYVAULT_PASSWORD_HASH_CONCURRENCY: {
    default: '2',
    doc: 'How many password hashes (logins) run at once, each on a worker thread of its own, never on the threads file I/O uses.',
    parse: intInRange(1, 64),
  },
  SKYVAULT_PASSWORD_HASH_QUEUE: {
    default: '16',
    doc: 'How many logins may wait for a hashing thread; more get HTTP 429 (PasswordCheckBusy) with Retry-After at once.',
    parse: intInRange(0, 10000),
  },
  SKYVAULT_LOGIN_LIMIT_ACCOUNT: {
    default: '10',
    doc: 'Failed logins per minute per username, in a burst or spread out; past it, HTTP 429 (TooManyLogins) with Retry-After. A successful login counts as a tenth of a failed one. 0 turns the limit off.',
    parse: intInRange(0, 100000),
  },
  SKYVAULT_LOGIN_LIMIT_ADDRESS: {
    default: '30',
    doc: 'Failed logins per minute per client address (an IPv6 /64; behind a trusted proxy the X-Forwarded-For client, see SKYVAULT_TRUST_PROXY), counted like SKYVAULT_LOGIN_LIMIT_ACCOUNT. 0 turns the limit off.',
    parse: intInRange(0, 100000),
  },
  SKYVAULT_MAP_TILES: {
    doc: 'Tile URL template of the web map, such as https://tile.openstreetmap.org/{z}/{x}/{y}.png; unset shows markers on a plain background.',
    parse: text,
  },
  SKYVAULT_FFMPEG: {
    doc: 'Path of the ffmpeg that makes video posters and reads durations; unset uses the one the install brought (@ffmpeg-installer), else ffmpeg on the PATH.',
    parse: text,
  },
  SKYVAULT_LOG_UPLOAD_TIMEOUT: {
    default: '900',
    doc: 'Seconds of silence from a dock after which its device-log upload fails with a reason (a late "ok" still completes it).',
    parse: positiveInt('seconds', 7 * 86400),
  },
  SKYVAULT_LOG_LEVEL: {
    default: 'info',
    doc: 'Log level: fatal, error, warn, info, debug, trace or silent. Logs are JSON lines on standard output.',
    parse: oneOf(LOG_LEVELS),
  },
  SKYVAULT_METRICS_TOKEN: {
    doc: 'Bearer token (at least 32 characters) that Prometheus sends (Authorization: Bearer …) to read /metrics on the HTTP port; unset turns /metrics off (docs/metrics.md).',
    secret: true,
    parse: nonEmpty('a secret', 32),
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

type Parsed<K extends SettingName> = ReturnType<(typeof SETTINGS)[K]['parse']>;

/** Every setting's parsed value; one with a default always has a value, the others may be undefined. */
export type SettingValues = {
  readonly [K in SettingName]: (typeof SETTINGS)[K] extends { default: string }
    ? Parsed<K>
    : Parsed<K> | undefined;
};
