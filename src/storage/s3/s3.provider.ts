/**
 * The `minio` and `aws` storage providers (docs/storage.md): a bucket on a MinIO server or on Amazon
 * S3, reached with the AWS SDK v3. Devices get temporary credentials from the provider's own STS
 * (AssumeRole with a session policy that allows only their workspace's prefix, sts-credentials.ts);
 * Skyvault's own operations (head, get, put, delete, list, presign) use the configured keys.
 *
 * - MinIO and any endpoint given in SKYVAULT_S3_ENDPOINT are addressed path-style; AWS without one
 *   uses its regional endpoints (virtual-hosted).
 * - Devices and browsers are told SKYVAULT_S3_PUBLIC_ENDPOINT when set (the host is part of a presigned
 *   URL's signature, so download links are signed for that host), else SKYVAULT_S3_ENDPOINT, else
 *   AWS's regional endpoint.
 * - Checksums only when an operation requires them: the SDK's default CRC32 trailers are refused by
 *   older MinIO releases and add query parameters to presigned URLs.
 * - A network failure or a 5xx is StorageUnavailable (transient: devices retry); a missing object is
 *   undefined, as with every provider.
 */
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError } from '../../shared/app-error.ts';
import type { Logger } from '../../shared/logger.ts';
import { objectKeyProblem } from '../object-key.ts';
import type {
  ByteRange,
  ListPage,
  ObjectInfo,
  StorageProvider,
  UploadCredentialRequest,
  UploadCredentials,
} from '../provider.ts';
import { StsCredentialCache } from './sts-credentials.ts';

export interface S3ProviderOptions {
  kind: 'minio' | 'aws';
  /** Where Skyvault reaches the storage (and its STS); undefined = AWS's regional endpoints. */
  endpoint: string | undefined;
  /** What devices and browsers are told; undefined = `endpoint`, else AWS's regional endpoint. */
  publicEndpoint: string | undefined;
  bucket: string;
  region: string;
  accessKey: string;
  secretKey: string;
  roleArn: string | undefined;
  logger: Logger;
  now?: () => number;
}

export class S3Provider implements StorageProvider {
  readonly wireProvider: 'minio' | 'aws';
  readonly bucket: string;
  readonly region: string;
  private readonly client: S3Client;
  /** Signs download links for the public endpoint (no requests go through it). */
  private readonly presigner: S3Client;
  private readonly sts: STSClient;
  private readonly credentialCache: StsCredentialCache;
  private readonly publicEndpoint: string;
  private readonly now: () => number;

  constructor(options: S3ProviderOptions) {
    this.wireProvider = options.kind;
    this.bucket = options.bucket;
    this.region = options.region;
    this.now = options.now ?? Date.now;
    const credentials = { accessKeyId: options.accessKey, secretAccessKey: options.secretKey };
    const common = {
      region: options.region,
      credentials,
      forcePathStyle: options.kind === 'minio' || options.endpoint !== undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
      maxAttempts: 3,
    };
    this.client = new S3Client({ ...common, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
    this.publicEndpoint =
      options.publicEndpoint ?? options.endpoint ?? `https://s3.${options.region}.amazonaws.com`;
    this.presigner = new S3Client({ ...common, endpoint: this.publicEndpoint });
    // MinIO answers STS on its S3 endpoint; AWS on its regional STS endpoint unless one is configured
    // (an S3-compatible service that answers STS on the same address, as Skyvault's embedded store does).
    this.sts = new STSClient({
      region: options.region,
      credentials,
      maxAttempts: 3,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    });
    this.credentialCache = new StsCredentialCache({
      sts: this.sts,
      bucket: options.bucket,
      roleArn: options.roleArn,
      logger: options.logger,
      now: this.now,
    });
  }

  endpointFor(): string {
    return this.publicEndpoint;
  }

  async issueUploadCredentials(request: UploadCredentialRequest): Promise<UploadCredentials> {
    const prefix = request.prefix.replace(/\/+$/, '');
    const issued = await this.storageCall(() =>
      this.credentialCache.credentials(prefix, request.actions ?? ['put', 'get'], request.ttlSeconds),
    );
    return {
      accessKeyId: issued.accessKeyId,
      accessKeySecret: issued.secretAccessKey,
      securityToken: issued.sessionToken,
      expiresAt: issued.expiresAt,
      endpoint: this.publicEndpoint,
      bucket: this.bucket,
      region: this.region,
      provider: this.wireProvider,
      prefix,
    };
  }

  async presignGet(
    key: string,
    options: { ttlSeconds: number; publicHostname?: string | undefined; downloadName?: string },
  ): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ...(options.downloadName
        ? {
            ResponseContentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(options.downloadName)}`,
          }
        : {}),
    });
    return getSignedUrl(this.presigner, command, {
      expiresIn: options.ttlSeconds,
      signingDate: new Date(this.now()),
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const answer = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: answer.ContentLength ?? 0,
        etag: answer.ETag ?? '""',
        contentType: answer.ContentType ?? 'binary/octet-stream',
        lastModified: answer.LastModified?.getTime() ?? 0,
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw unavailable(error);
    }
  }

  async get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable } | undefined> {
    try {
      const answer = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      const total = /\/(\d+)$/.exec(answer.ContentRange ?? '')?.[1];
      return {
        info: {
          key,
          size: total !== undefined ? Number(total) : (answer.ContentLength ?? 0),
          etag: answer.ETag ?? '""',
          contentType: answer.ContentType ?? 'binary/octet-stream',
          lastModified: answer.LastModified?.getTime() ?? 0,
        },
        body: answer.Body as Readable,
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw unavailable(error);
    }
  }

  async put(
    key: string,
    body: Readable | Buffer,
    options: { contentType?: string } = {},
  ): Promise<ObjectInfo> {
    const problem = objectKeyProblem(key);
    if (problem) throw new Error(`${problem.message} (${JSON.stringify(key.slice(0, 200))})`);
    const contentType = options.contentType ?? 'binary/octet-stream';
    try {
      if (Buffer.isBuffer(body)) {
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
        );
      } else {
        // A stream of unknown length: lib-storage sends it in parts (one PUT when it is small).
        await new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
        }).done();
      }
    } catch (error) {
      throw unavailable(error);
    }
    const stored = await this.head(key);
    if (!stored) throw new AppError('StorageUnavailable', `${key} is not in storage right after its upload.`);
    return stored;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw unavailable(error);
    }
  }

  async list(prefix: string, options: { after?: string; limit?: number } = {}): Promise<ListPage> {
    try {
      const answer = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          MaxKeys: options.limit ?? 1000,
          ...(options.after ? { StartAfter: options.after } : {}),
        }),
      );
      const objects: ObjectInfo[] = (answer.Contents ?? []).map((o) => ({
        key: o.Key ?? '',
        size: o.Size ?? 0,
        etag: o.ETag ?? '""',
        // Listings do not carry it.
        contentType: '',
        lastModified: o.LastModified?.getTime() ?? 0,
      }));
      return { objects, nextAfter: answer.IsTruncated ? objects.at(-1)?.key : undefined };
    } catch (error) {
      throw unavailable(error);
    }
  }

  /** Whether the bucket answers with these keys (/healthz, start-up): throws what went wrong. */
  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  /**
   * How far the storage's clock is from ours, in ms, as the SDK measured it from the answers' Date
   * headers (it corrects its own signatures when over 5 minutes off; presigned links and credential
   * expiries still suffer).
   */
  clockOffsetMs(): number {
    return this.client.config.systemClockOffset ?? 0;
  }

  /** What upload credentials last after the provider's limit (SKYVAULT_CREDENTIAL_TTL, clamped). */
  credentialTtl(requested: number): number {
    return this.credentialCache.ttlFor(requested);
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.presigner.destroy();
    this.sts.destroy();
  }

  private async storageCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw unavailable(error);
    }
  }
}

export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * A storage call that failed: StorageUnavailable (transient) for the network and 5xx, so devices and
 * people retry; anything else (a refusal, a bad request) is a configuration problem, kept as it is.
 */
function unavailable(error: unknown): unknown {
  const status = statusOf(error);
  if (status !== undefined && status < 500) return error;
  return new AppError('StorageUnavailable', undefined, { cause: error });
}
