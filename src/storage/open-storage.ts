/**
 * The storage SKYVAULT_STORAGE names, built: the embedded store (which listens on its own port), or a
 * cloud provider (MinIO, AWS, Aliyun OSS) that must be usable before Skyvault listens: `check` tells in
 * one plain sentence what is wrong (bucket missing, keys refused, role not assumable, clock off,
 * unreachable). A cloud provider's module, and with it its SDK, is imported only when it is the one
 * configured: loading the AWS SDK and ali-oss cost the embedded default a good part of its start.
 */
import type { Config } from '../config/config.ts';
import type { Logger } from '../shared/logger.ts';
import { StartupError } from '../shared/startup-error.ts';
import { LocalStorageProvider } from './local/local.provider.ts';
import type { AliProvider } from './ali/ali.provider.ts';
import type { StorageProvider } from './provider.ts';
import type { S3Provider } from './s3/s3.provider.ts';
import { httpStatusOf } from './storage-errors.ts';

/** A cloud provider: what start-up checks and /healthz use (ping, clockOffsetMs, credentialTtl). */
type CloudProvider = S3Provider | AliProvider;

export interface OpenedStorage {
  storage: StorageProvider;
  /** The embedded store, when it is the storage. */
  embedded: LocalStorageProvider | undefined;
  /** Resolves when the storage can be used; StartupError otherwise. */
  check(): Promise<void>;
  /** Resolves when cloud storage answers (/healthz); undefined for the embedded store. */
  ping: (() => Promise<void>) | undefined;
  /** Where the cloud storage is, for sentences: its endpoint, else its region (`AWS region us-east-1`). */
  place: string;
}

export interface StorageSecrets {
  /** Authenticates the embedded store's temporary credentials. */
  storageSecret: string;
  /** The embedded store's root credentials. */
  storageRoot: { accessKey: string; secretKey: string };
}

/**
 * The secrets for a command that never builds the embedded store (`storage init`, `storage migrate`
 * refuse SKYVAULT_STORAGE=local first): none are read from the database for it.
 */
export const NO_EMBEDDED_STORE: StorageSecrets = {
  storageSecret: '',
  storageRoot: { accessKey: '', secretKey: '' },
};

/** How far the storage's clock may be from ours before signatures fail (S3 and STS allow 15 minutes). */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export async function openStorage(
  config: Config,
  secrets: StorageSecrets,
  options: { defaultPublicHostname: string; logger: Logger; now: () => number },
): Promise<OpenedStorage> {
  const { storage } = config;
  if (storage.kind === 'local' || !storage.cloud) {
    const embedded = new LocalStorageProvider({
      root: storage.root,
      bucket: storage.bucket,
      region: storage.region,
      secret: secrets.storageSecret,
      rootCredentials: secrets.storageRoot,
      host: config.http.host,
      port: storage.port,
      publicEndpoint: storage.publicEndpoint,
      defaultPublicHostname: options.defaultPublicHostname,
      tls: config.http.tls,
      logger: options.logger,
      now: options.now,
    });
    return { storage: embedded, embedded, check: async () => {}, ping: undefined, place: storage.root };
  }
  const { cloud } = storage;
  const common = {
    endpoint: cloud.endpoint,
    publicEndpoint: storage.publicEndpoint,
    stsEndpoint: cloud.stsEndpoint,
    bucket: storage.bucket,
    region: storage.region,
    accessKey: cloud.accessKey,
    secretKey: cloud.secretKey,
    logger: options.logger,
    now: options.now,
  };
  // readStorage (config/build.ts) refuses ali without a role.
  const provider: CloudProvider =
    storage.kind === 'ali'
      ? new (await import('./ali/ali.provider.ts')).AliProvider({ ...common, roleArn: cloud.roleArn ?? '' })
      : new (await import('./s3/s3.provider.ts')).S3Provider({
          ...common,
          kind: storage.kind,
          roleArn: cloud.roleArn,
        });
  const regional =
    storage.kind === 'ali' ? `Aliyun region ${storage.region}` : `AWS region ${storage.region}`;
  const place = cloud.endpoint ?? regional;
  const where = `${storage.kind} storage at ${place}`;
  return {
    storage: provider,
    embedded: undefined,
    ping: () => provider.ping(),
    place,
    check: () =>
      checkCloud(provider, {
        where,
        kind: storage.kind,
        bucket: storage.bucket,
        ttl: storage.credentialTtlSeconds,
        ...options,
      }),
  };
}

async function checkCloud(
  provider: CloudProvider,
  context: { where: string; kind: string; bucket: string; ttl: number; logger: Logger; now: () => number },
): Promise<void> {
  const { where, bucket } = context;
  try {
    await provider.ping();
  } catch (error) {
    throw new StartupError(bucketProblem(error, where, bucket, context.kind), { cause: error });
  }
  const skew = Math.abs(provider.clockOffsetMs());
  if (skew > MAX_CLOCK_SKEW_MS) {
    throw new StartupError(
      `This machine's clock is ${Math.round(skew / 60_000)} minutes away from the ${where}'s: download links and upload credentials would be refused or expire early; set the clock right (NTP).`,
    );
  }
  try {
    // One AssumeRole as devices will get it: proves the role can be assumed with a session policy,
    // and lowers the credential lifetime now (with its warning) if the provider allows less.
    await provider.issueUploadCredentials({ prefix: 'skyvault-start-check', ttlSeconds: context.ttl });
  } catch (error) {
    throw new StartupError(
      `The ${where} refuses to issue temporary credentials (STS AssumeRole: ${describeError(error)}): check SKYVAULT_S3_ROLE_ARN, that SKYVAULT_S3_ACCESS_KEY may assume it, and that the role allows ${context.kind === 'ali' ? 'oss:PutObject' : 's3:PutObject'} on the bucket (docs/storage.md).`,
      { cause: error },
    );
  }
  const ttl = provider.credentialTtl(context.ttl);
  if (ttl < context.ttl) {
    context.logger.warn(
      `SKYVAULT_CREDENTIAL_TTL is ${context.ttl} s, more than the ${where} allows: upload credentials last ${ttl} s.`,
    );
  }
}

function bucketProblem(error: unknown, where: string, bucket: string, kind: string): string {
  const status = httpStatusOf(error);
  // The AWS SDK names errors by their code; ali-oss keeps the code apart.
  const name = (error as { code?: string }).code ?? (error as { name?: string }).name ?? '';
  if (name === 'RequestTimeTooSkewed' || /skew/i.test(describeError(error))) {
    return `This machine's clock is too far from the ${where}'s (more than ${MAX_CLOCK_SKEW_MS / 60_000} minutes), so every signature is refused: set the clock right (NTP).`;
  }
  if (status === 404 || name === 'NotFound' || name === 'NoSuchBucket') {
    if (kind === 'ali') {
      return `The bucket "${bucket}" does not exist at the ${where}: create it in the OSS console, with the CORS rule in docs/storage.md, or set SKYVAULT_S3_BUCKET to an existing one.`;
    }
    return `The bucket "${bucket}" does not exist at the ${where}: create it with \`skyvault storage init\` (which also gives it the CORS rule browsers need, docs/storage.md) or set SKYVAULT_S3_BUCKET to an existing one.`;
  }
  if (status === 403 || status === 401) {
    return `The ${where} refuses SKYVAULT_S3_ACCESS_KEY / SKYVAULT_S3_SECRET_KEY for the bucket "${bucket}" (HTTP ${status}): check the keys and that they may use the bucket.`;
  }
  if (status === 301 || status === 400) {
    return `The bucket "${bucket}" answers HTTP ${status} at the ${where}: check SKYVAULT_S3_REGION (the bucket's region) and SKYVAULT_S3_ENDPOINT.`;
  }
  return `The ${where} cannot be reached (${describeError(error)}): check SKYVAULT_S3_ENDPOINT and the network.`;
}

/** An SDK or network error in a few words: its name, message and code. */
export function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  const text = [e.name && e.name !== 'Error' ? e.name : undefined, e.message].filter(Boolean).join(': ');
  return code && !text.includes(code) ? `${text} (${code})` : text || String(error);
}
