/**
 * The `ali` storage provider (docs/storage.md): a bucket on Aliyun OSS, reached with Aliyun's own
 * client, `ali-oss`, signing with OSS Signature V4 (Aliyun stopped accepting V1 for buckets created
 * from 2025 on). Devices get temporary credentials from Aliyun STS (AssumeRole of SKYVAULT_S3_ROLE_ARN
 * with a RAM policy that allows only their workspace's prefix, aliyun-sts.ts, cached by
 * credential-cache.ts) and are told `provider: "ali"`, the OSS endpoint and the region without its
 * `oss-` prefix (`cn-hangzhou`), as DJI's demo tells them. Skyvault's own operations (head, get, put,
 * delete, list, presign) use the configured keys.
 *
 * - Endpoints: OSS at SKYVAULT_S3_ENDPOINT, else `https://oss-<region>.aliyuncs.com` (virtual-hosted:
 *   the bucket is in the host name, which OSS requires). Any other host (an emulator, Skyvault's own
 *   embedded store in tests) is addressed path-style. STS at SKYVAULT_S3_STS_ENDPOINT, else
 *   `https://sts.<region>.aliyuncs.com`.
 * - OSS ETags are upper-case hex; they are lower-cased here so that every provider answers the same
 *   ETag for the same bytes.
 * - A network failure or a 5xx is StorageUnavailable (transient: devices retry); a missing object is
 *   undefined, as with every provider.
 */
import type { Readable } from 'node:stream';
import OSS from 'ali-oss';
import { AppError } from '../../shared/app-error.ts';
import type { Logger } from '../../shared/logger.ts';
import { CredentialCache } from '../credential-cache.ts';
import { assertObjectKey } from '../object-key.ts';
import type {
  ByteRange,
  ListPage,
  ObjectInfo,
  StorageProvider,
  UploadCredentialRequest,
  UploadCredentials,
} from '../provider.ts';
import { httpStatusOf, unavailable } from '../storage-errors.ts';
import { aliyunAssumeRole, isAliyunDurationRefused } from './aliyun-sts.ts';

export interface AliProviderOptions {
  /** Where Skyvault reaches OSS; undefined = the region's public endpoint. */
  endpoint: string | undefined;
  /** What devices and browsers are told; undefined = `endpoint`, else the region's public endpoint. */
  publicEndpoint: string | undefined;
  /** Where Skyvault calls STS; undefined = the region's STS endpoint. */
  stsEndpoint: string | undefined;
  bucket: string;
  /** `cn-hangzhou` (an `oss-` prefix is dropped). */
  region: string;
  accessKey: string;
  secretKey: string;
  roleArn: string;
  logger: Logger;
  now?: () => number;
}

/** ali-oss's options that its type definitions leave out. */
interface ClientOptions extends OSS.Options {
  /** Path-style addressing (`/<bucket>/<key>`). */
  sldEnable?: boolean;
  retryMax?: number;
}

const REQUEST_TIMEOUT_MS = 60_000;

export class AliProvider implements StorageProvider {
  readonly wireProvider = 'ali' as const;
  readonly bucket: string;
  readonly region: string;
  private readonly client: OSS;
  /** Signs download links for the public endpoint (no requests go through it). */
  private readonly presigner: OSS;
  private readonly credentialCache: CredentialCache;
  private readonly publicEndpoint: string;
  private readonly now: () => number;
  /** Server time minus ours, from the last ping's Date header. */
  private clockOffset = 0;

  constructor(options: AliProviderOptions) {
    this.bucket = options.bucket;
    this.region = options.region.replace(/^oss-/, '');
    this.now = options.now ?? Date.now;
    const regional = `https://oss-${this.region}.aliyuncs.com`;
    const endpoint = options.endpoint ?? regional;
    this.publicEndpoint = options.publicEndpoint ?? endpoint;
    this.client = new OSS(this.clientOptions(options, endpoint));
    this.presigner = new OSS(this.clientOptions(options, this.publicEndpoint));
    this.credentialCache = new CredentialCache({
      assume: aliyunAssumeRole({
        endpoint: options.stsEndpoint ?? `https://sts.${this.region}.aliyuncs.com`,
        accessKey: options.accessKey,
        secretKey: options.secretKey,
        roleArn: options.roleArn,
        bucket: options.bucket,
      }),
      isDurationRefused: isAliyunDurationRefused,
      logger: options.logger,
      now: this.now,
    });
  }

  private clientOptions(options: AliProviderOptions, endpoint: string): ClientOptions {
    const url = new URL(endpoint);
    return {
      region: `oss-${this.region}`,
      endpoint,
      secure: url.protocol === 'https:',
      bucket: options.bucket,
      accessKeyId: options.accessKey,
      accessKeySecret: options.secretKey,
      authorizationV4: true,
      sldEnable: !/(^|\.)aliyuncs\.com$/i.test(url.hostname),
      timeout: REQUEST_TIMEOUT_MS,
      retryMax: 2,
    };
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
        provider: 'ali',
      }),
    );
  }

  async presignGet(
    key: string,
    options: { ttlSeconds: number; publicHostname?: string | undefined; downloadName?: string },
  ): Promise<string> {
    const queries: Record<string, string> = {};
    if (options.downloadName) {
      queries['response-content-disposition'] =
        `attachment; filename*=UTF-8''${encodeURIComponent(options.downloadName)}`;
    }
    return this.presigner.signatureUrlV4('GET', options.ttlSeconds, { headers: {}, queries }, key);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const answer = await this.client.head(key);
      return infoFromHeaders(key, answer.res.headers as Record<string, string>);
    } catch (error) {
      if (httpStatusOf(error) === 404) return undefined;
      throw unavailable(error);
    }
  }

  async get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable } | undefined> {
    try {
      const answer = await this.client.getStream(key, {
        ...(range ? { headers: { Range: `bytes=${range.start}-${range.end}` } } : {}),
      });
      const headers = answer.res.headers as Record<string, string>;
      const info = infoFromHeaders(key, headers);
      const total = /\/(\d+)$/.exec(headers['content-range'] ?? '')?.[1];
      if (total !== undefined) info.size = Number(total);
      return { info, body: answer.stream as Readable };
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
    const mime = options.contentType ?? 'binary/octet-stream';
    try {
      // A Buffer goes with its Content-MD5, which OSS checks; a stream goes chunked (one PutObject,
      // which OSS allows up to 5 GiB).
      if (Buffer.isBuffer(body)) await this.client.put(key, body, { mime });
      // (The type definitions require options ali-oss itself treats as optional.)
      else await this.client.putStream(key, body, { mime } as OSS.PutStreamOptions);
    } catch (error) {
      throw unavailable(error);
    }
    const stored = await this.head(key);
    if (!stored) throw new AppError('StorageUnavailable', `${key} is not in storage right after its upload.`);
    return stored;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.delete(key);
    } catch (error) {
      if (httpStatusOf(error) === 404) return;
      throw unavailable(error);
    }
  }

  async list(prefix: string, options: { after?: string; limit?: number } = {}): Promise<ListPage> {
    try {
      const answer = await this.client.listV2(
        {
          prefix,
          'max-keys': String(options.limit ?? 1000),
          ...(options.after ? { 'start-after': options.after } : {}),
        },
        {},
      );
      const objects: ObjectInfo[] = (answer.objects ?? []).map((o) => ({
        key: o.name,
        size: Number(o.size),
        etag: normalEtag(o.etag),
        // Listings do not carry it.
        contentType: '',
        lastModified: Date.parse(o.lastModified) || 0,
      }));
      return { objects, nextAfter: answer.isTruncated ? objects.at(-1)?.key : undefined };
    } catch (error) {
      throw unavailable(error);
    }
  }

  /**
   * Whether the bucket answers with these keys (/healthz, start-up): throws what went wrong. A listing
   * of one key needs only oss:ListObjects, which the keys need anyway.
   */
  async ping(): Promise<void> {
    const answer = await this.client.listV2({ 'max-keys': '1' }, {});
    const date = Date.parse((answer.res.headers as Record<string, string>).date ?? '');
    if (!Number.isNaN(date)) this.clockOffset = date - this.now();
  }

  /** How far OSS's clock is from ours, in ms, from the last ping's Date header (1 s resolution). */
  clockOffsetMs(): number {
    return Math.abs(this.clockOffset) < 2000 ? 0 : this.clockOffset;
  }

  /** What upload credentials last after the provider's limit (SKYVAULT_CREDENTIAL_TTL, clamped). */
  credentialTtl(requested: number): number {
    return this.credentialCache.ttlFor(requested);
  }

  async close(): Promise<void> {
    // ali-oss keeps no sockets of its own beyond its keep-alive agent, which unrefs idle ones.
  }

  private async storageCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw unavailable(error);
    }
  }
}

function infoFromHeaders(key: string, headers: Record<string, string>): ObjectInfo {
  return {
    key,
    size: Number(headers['content-length'] ?? 0),
    etag: normalEtag(headers.etag ?? '""'),
    contentType: headers['content-type'] ?? 'binary/octet-stream',
    lastModified: Date.parse(headers['last-modified'] ?? '') || 0,
  };
}

function normalEtag(etag: string): string {
  return etag.toLowerCase();
}
