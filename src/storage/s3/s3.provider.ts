/**
 * The `minio` and `aws` storage providers (docs/storage.md): a bucket on a MinIO server or on Amazon
 * S3, reached with the AWS SDK v3. Devices get temporary credentials from the provider's own STS
 * (AssumeRole with a session policy that allows only their workspace's prefix, sts-credentials.ts,
 * cached by credential-cache.ts);
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
  type BucketLocationConstraint,
  type CORSRule,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError } from '../../shared/app-error.ts';
import type { Logger } from '../../shared/logger.ts';
import { allowsBrowserReads, bucketCorsRule, CorsRuleNotKeptError } from '../cors-rule.ts';
import { assertObjectKey } from '../object-key.ts';
import { CredentialCache } from '../credential-cache.ts';
import type {
  ByteRange,
  ListPage,
  ObjectInfo,
  StorageProvider,
  UploadCredentialRequest,
  UploadCredentials,
} from '../provider.ts';
import { httpStatusOf, unavailable } from '../storage-errors.ts';
import { awsAssumeRole, isAwsDurationRefused } from './sts-credentials.ts';

export interface S3ProviderOptions {
  kind: 'minio' | 'aws';
  /** Where Skyvault reaches the storage (and its STS); undefined = AWS's regional endpoints. */
  endpoint: string | undefined;
  /** What devices and browsers are told; undefined = `endpoint`, else AWS's regional endpoint. */
  publicEndpoint: string | undefined;
  /** Where Skyvault calls STS; undefined = `endpoint`, else AWS's regional STS endpoint. */
  stsEndpoint?: string | undefined;
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
  private readonly credentialCache: CredentialCache;
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
    // MinIO answers STS on its S3 endpoint; AWS on its regional STS endpoint unless one is configured:
    // SKYVAULT_S3_STS_ENDPOINT, else SKYVAULT_S3_ENDPOINT (an S3-compatible service that answers STS on
    // the same address, as Skyvault's embedded store does).
    this.sts = new STSClient({
      region: options.region,
      credentials,
      maxAttempts: 3,
      ...(options.stsEndpoint || options.endpoint
        ? { endpoint: options.stsEndpoint ?? options.endpoint }
        : {}),
    });
    this.credentialCache = new CredentialCache({
      assume: awsAssumeRole(this.sts, options.bucket, options.roleArn),
      isDurationRefused: isAwsDurationRefused,
      logger: options.logger,
      now: this.now,
    });
  }

  endpointFor(): string {
    return this.publicEndpoint;
  }

  async issueUploadCredentials(request: UploadCredentialRequest): Promise<UploadCredentials> {
    return this.storageCall(() =>
      this.credentialCache.uploadCredentials(request, {
        endpoint: this.publicEndpoint,
        bucket: this.bucket,
        region: this.region,
        provider: this.wireProvider,
      }),
    );
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
      if (httpStatusOf(error) === 404) return undefined;
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
      if (httpStatusOf(error) === 404) return undefined;
      throw unavailable(error);
    }
  }

  async put(
    key: string,
    body: Readable | Buffer,
    options: { contentType?: string } = {},
  ): Promise<ObjectInfo> {
    assertObjectKey(key);
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
      if (httpStatusOf(error) === 404) return;
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
   * Creates the bucket when it does not exist (`skyvault storage init`): whether it was created or
   * already there. Throws what went wrong, as the storage said it (BucketAlreadyExists: the name is
   * another account's).
   */
  async ensureBucket(): Promise<'created' | 'existed'> {
    try {
      await this.ping();
      return 'existed';
    } catch (error) {
      if (httpStatusOf(error) !== 404) throw error;
    }
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // S3 creates a bucket in us-east-1 unless told where, and refuses us-east-1 as a constraint;
          // MinIO takes its own region. The SDK would add this constraint itself: said here, it does
          // not depend on that.
          ...(this.region !== 'us-east-1'
            ? { CreateBucketConfiguration: { LocationConstraint: this.region as BucketLocationConstraint } }
            : {}),
        }),
      );
      return 'created';
    } catch (error) {
      // Created meanwhile with these keys (another init), which is what was asked for.
      if ((error as { name?: string }).name === 'BucketAlreadyOwnedByYou') return 'existed';
      throw error;
    }
  }

  /**
   * Gives the bucket the CORS rule browsers need (cors-rule.ts), keeping its other rules: `present`
   * when a rule already lets any origin GET and HEAD (nothing is written), else `added`. Then reads
   * the configuration back, since a storage may accept a rule it does not apply (CorsRuleNotKeptError).
   * `otherRules` counts the bucket's rules kept beside it. Throws what went wrong otherwise.
   */
  async applyCorsRule(): Promise<{ rule: 'added' | 'present'; otherRules: number }> {
    const rules = await this.corsRules();
    const kept = rules.filter((rule) => !allowsBrowserReads(rule));
    if (kept.length < rules.length) return { rule: 'present', otherRules: kept.length };
    await this.client.send(
      new PutBucketCorsCommand({
        Bucket: this.bucket,
        CORSConfiguration: { CORSRules: [...rules, bucketCorsRule()] },
      }),
    );
    if (!(await this.corsRules()).some(allowsBrowserReads)) {
      throw new CorsRuleNotKeptError(
        `The storage accepted the CORS rule for the bucket "${this.bucket}" but does not return it.`,
      );
    }
    return { rule: 'added', otherRules: rules.length };
  }

  /** The bucket's CORS rules; none when it has no CORS configuration (S3's NoSuchCORSConfiguration). */
  private async corsRules(): Promise<CORSRule[]> {
    try {
      const answer = await this.client.send(new GetBucketCorsCommand({ Bucket: this.bucket }));
      return answer.CORSRules ?? [];
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchCORSConfiguration') return [];
      throw error;
    }
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
