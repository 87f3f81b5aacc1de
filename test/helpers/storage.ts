/** A running embedded store for one test, and S3 clients pointed at it with its temporary credentials. */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import * as Minio from 'minio';
import { createLogger } from '../../src/shared/logger.ts';
import { LocalStorageProvider } from '../../src/storage/local/local.provider.ts';
import { Sha256 } from '../../src/storage/local/sigv4.ts';
import type { StorageAction, UploadCredentials } from '../../src/storage/provider.ts';
import { tempDir } from './test-app.ts';

export const BUCKET = 'skyvault';
export const REGION = 'us-east-1';

export interface TestStorage {
  provider: LocalStorageProvider;
  root: string;
  endpoint: string;
  clock: { offsetMs: number };
  credentials(
    prefix: string,
    options?: { ttlSeconds?: number; actions?: StorageAction[] },
  ): Promise<UploadCredentials>;
  close(): Promise<void>;
}

/** Root credentials of the test store (startTestStorage), as an operator would configure them. */
export const ROOT_CREDENTIALS = { accessKey: 'SKYVAULTTESTROOT', secretKey: 'test-root-secret-0123456789' };

/** `region`: the store's (default REGION); `cn-hangzhou` for tests of Aliyun's OSS V4 signatures. */
export async function startTestStorage(
  options: { bucket?: string; region?: string } = {},
): Promise<TestStorage> {
  const dir = tempDir('skyvault-storage-');
  const clock = { offsetMs: 0 };
  const provider = new LocalStorageProvider({
    root: path.join(dir, 'objects'),
    bucket: options.bucket ?? BUCKET,
    region: options.region ?? REGION,
    secret: 'test-storage-secret',
    rootCredentials: ROOT_CREDENTIALS,
    host: '127.0.0.1',
    port: 0,
    publicEndpoint: undefined,
    defaultPublicHostname: '127.0.0.1',
    tls: undefined,
    logger: createLogger('silent'),
    now: () => Date.now() + clock.offsetMs,
  });
  await provider.listen();
  return {
    provider,
    root: path.join(dir, 'objects'),
    endpoint: provider.endpointFor('127.0.0.1'),
    clock,
    credentials: (prefix, options = {}) =>
      provider.issueUploadCredentials({
        prefix,
        ttlSeconds: options.ttlSeconds ?? 3600,
        actions: options.actions ?? ['put', 'get', 'list', 'delete'],
      }),
    async close() {
      await provider.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function sdkClient(
  credentials: UploadCredentials,
  extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {},
): S3Client {
  return new S3Client({
    endpoint: credentials.endpoint,
    region: credentials.region,
    forcePathStyle: true,
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.accessKeySecret,
      sessionToken: credentials.securityToken,
    },
    maxAttempts: 1,
    ...extra,
  });
}

export function minioClient(
  credentials: UploadCredentials,
  extra: Partial<Minio.ClientOptions> = {},
): Minio.Client {
  const url = new URL(credentials.endpoint);
  return new Minio.Client({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL: url.protocol === 'https:',
    accessKey: credentials.accessKeyId,
    secretKey: credentials.accessKeySecret,
    sessionToken: credentials.securityToken,
    region: credentials.region,
    pathStyle: true,
    ...extra,
  });
}

/** A SigV4 signer holding these credentials, for tests that build raw S3 requests by hand. */
export function s3Signer(creds: UploadCredentials): SignatureV4 {
  return new SignatureV4({
    credentials: {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.accessKeySecret,
      sessionToken: creds.securityToken,
    },
    region: REGION,
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
}
