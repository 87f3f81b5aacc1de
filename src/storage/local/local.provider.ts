/**
 * The `local` storage provider: the embedded S3 endpoint (s3-server.ts) listening on its own port, over
 * the on-disk store (object-store.ts), with self-contained temporary credentials (credentials.ts).
 * Devices are told it is `minio` (path-style S3 with STS credentials), which DJI devices support. With
 * root credentials it also stands in for a MinIO server: S3 with the root keys, and STS AssumeRole
 * with session policies (sts.ts, iam-policy.ts).
 * The server's own operations (head, get, put, delete, list) go to the store directly, not over HTTP.
 */
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Logger } from '../../shared/logger.ts';
import type {
  ByteRange,
  ListPage,
  ObjectInfo,
  StorageProvider,
  UploadCredentialRequest,
  UploadCredentials,
} from '../provider.ts';
import { assertObjectKey } from '../object-key.ts';
import { BodyDigests } from './checksums.ts';
import { CredentialAuthority, type RootCredentials } from './credentials.ts';
import { ObjectStore } from './object-store.ts';
import { startOrphanSweep } from './orphan-sweep.ts';
import { S3Endpoint } from './s3-server.ts';
import { Sha256, UNSIGNED_PAYLOAD, uriEncode } from './sigv4.ts';

export interface LocalStorageOptions {
  /** Directory of the store (`<data dir>/objects`). */
  root: string;
  bucket: string;
  region: string;
  /** Key that authenticates the temporary credentials; the same on every instance. */
  secret: string;
  host: string;
  port: number;
  /** Fixed endpoint URL devices are told; undefined = http(s)://<host they used>:<port>. */
  publicEndpoint: string | undefined;
  /** Host name used when no request tells which one clients use. */
  defaultPublicHostname: string;
  tls: { cert: Buffer; key: Buffer } | undefined;
  logger: Logger;
  now?: () => number;
  /** See S3EndpointOptions.minPartSize (benchmarks only). */
  minPartSize?: number;
  /**
   * Long-term credentials, as MinIO's root user: requests signed with them (and no session token) may do
   * anything in the bucket, and only they may call STS AssumeRole on the endpoint. Temporary credentials
   * they obtain with a session policy may do exactly what the policy allows; without a policy, what root
   * may do (as in MinIO). Undefined = no long-term credentials are accepted, and AssumeRole is refused.
   */
  rootCredentials?: RootCredentials | undefined;
  /**
   * The orphan sweep started by listen() (orphan-sweep.ts): how long after start, and the age below
   * which unreferenced blob files are kept. Defaults: 10 s, 1 hour.
   */
  orphanSweep?: { delayMs?: number; olderThanMs?: number };
}

export class LocalStorageProvider implements StorageProvider {
  readonly wireProvider = 'minio' as const;
  readonly bucket: string;
  readonly region: string;
  readonly store: ObjectStore;
  private readonly authority: CredentialAuthority;
  private readonly now: () => number;
  private server: Server | undefined;
  private boundPort: number | undefined;
  private sweep: { stop(): Promise<void> } | undefined;

  constructor(private readonly options: LocalStorageOptions) {
    this.bucket = options.bucket;
    this.region = options.region;
    this.now = options.now ?? Date.now;
    this.store = new ObjectStore(options.root);
    this.authority = new CredentialAuthority(options.secret);
    const root = options.rootCredentials;
    if (root && (!root.accessKey || !root.secretKey)) {
      throw new Error('The storage root credentials need both an access key and a secret key.');
    }
  }

  /** Starts the S3 listener; resolves with the bound port. */
  async listen(): Promise<number> {
    const endpoint = new S3Endpoint({
      store: this.store,
      authority: this.authority,
      bucket: this.bucket,
      region: this.region,
      logger: this.options.logger,
      now: this.now,
      rootCredentials: this.options.rootCredentials,
      ...(this.options.minPartSize ? { minPartSize: this.options.minPartSize } : {}),
    });
    const server = this.options.tls ? createHttpsServer(this.options.tls) : createHttpServer();
    server.on('request', endpoint.handleRequest);
    server.on('checkContinue', endpoint.handleCheckContinue);
    // Uploads of gigabytes take longer than Node's default 5-minute request timeout.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    // In the background: a crash may have left blob files no index row names (orphan-sweep.ts).
    this.sweep = startOrphanSweep(this.store, { logger: this.options.logger, ...this.options.orphanSweep });
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort ?? this.options.port;
  }

  /** The endpoint URL for clients that reach Skyvault by `hostname`. */
  endpointFor(hostname: string | undefined): string {
    if (this.options.publicEndpoint) return this.options.publicEndpoint;
    const host = hostname ?? this.options.defaultPublicHostname;
    const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    return `${this.options.tls ? 'https' : 'http'}://${bracketed}:${this.port}`;
  }

  async issueUploadCredentials(request: UploadCredentialRequest): Promise<UploadCredentials> {
    const prefix = request.prefix.replace(/\/+$/, '');
    const expiresAt = Math.floor(this.now() / 1000) + request.ttlSeconds;
    const issued = this.authority.issue({ prefix }, request.actions ?? ['put', 'get'], expiresAt);
    return {
      accessKeyId: issued.accessKeyId,
      accessKeySecret: issued.secretAccessKey,
      securityToken: issued.sessionToken,
      expiresAt: expiresAt * 1000,
      endpoint: this.endpointFor(request.publicHostname),
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
    const now = this.now();
    const issued = this.authority.issue({ key }, ['get'], Math.floor(now / 1000) + options.ttlSeconds);
    const endpoint = new URL(this.endpointFor(options.publicHostname));
    const path = `/${uriEncode(this.bucket)}/${key.split('/').map(uriEncode).join('/')}`;
    const query: Record<string, string> = {};
    if (options.downloadName) {
      query['response-content-disposition'] =
        `attachment; filename*=UTF-8''${uriEncode(options.downloadName)}`;
    }
    const signer = new SignatureV4({
      credentials: {
        accessKeyId: issued.accessKeyId,
        secretAccessKey: issued.secretAccessKey,
        sessionToken: issued.sessionToken,
      },
      region: this.region,
      service: 's3',
      sha256: Sha256,
      uriEscapePath: false,
    });
    const headerSet = new Set(['x-amz-content-sha256']);
    const signed = await signer.presign(
      {
        method: 'GET',
        protocol: endpoint.protocol,
        hostname: endpoint.hostname,
        path,
        query,
        headers: { host: endpoint.host, 'x-amz-content-sha256': UNSIGNED_PAYLOAD },
      },
      {
        expiresIn: options.ttlSeconds,
        signingDate: new Date(now),
        unsignableHeaders: headerSet,
        unhoistableHeaders: headerSet,
      },
    );
    const search = Object.entries(signed.query ?? {})
      .map(([k, v]) => `${uriEncode(k)}=${uriEncode(String(v))}`)
      .join('&');
    return `${endpoint.origin}${path}?${search}`;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const info = this.store.head(key);
    return info && { ...info, md5: md5OfEtag(info.etag) };
  }

  async get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable } | undefined> {
    return this.store.read(key, range);
  }

  async put(
    key: string,
    body: Readable | Buffer,
    options: { contentType?: string } = {},
  ): Promise<ObjectInfo> {
    assertObjectKey(key);
    const tmpPath = this.store.tmpPath();
    const digests = new BodyDigests({ sha256: false, checksum: undefined });
    try {
      await pipeline(
        Buffer.isBuffer(body) ? Readable.from([body]) : body,
        digests,
        createWriteStream(tmpPath),
      );
      return await this.store.putObject(
        key,
        { tmpPath, size: digests.bytes, md5Hex: digests.digests().md5Hex },
        options.contentType ?? 'binary/octet-stream',
        this.now(),
      );
    } catch (error) {
      await unlink(tmpPath).catch(() => {});
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    this.store.deleteObject(key);
  }

  async list(prefix: string, options: { after?: string; limit?: number } = {}): Promise<ListPage> {
    const limit = options.limit ?? 1000;
    const objects: ObjectInfo[] = [];
    let more = false;
    for (const object of this.store.iterate(prefix, options.after)) {
      if (objects.length === limit) {
        more = true;
        break;
      }
      objects.push(object);
    }
    return { objects, nextAfter: more ? objects.at(-1)?.key : undefined };
  }

  async close(): Promise<void> {
    const sweep = this.sweep;
    this.sweep = undefined;
    await sweep?.stop();
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.store.close();
  }
}

/** The embedded store's ETag of a single-part object is the MD5 of its bytes (multipart: `"…-N"`). */
function md5OfEtag(etag: string): string | undefined {
  const bare = etag.replace(/^"|"$/g, '');
  return /^[0-9a-f]{32}$/.test(bare) ? bare : undefined;
}
