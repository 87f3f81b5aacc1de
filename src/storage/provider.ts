/**
 * The object-storage seam of Skyvault: an interface plus capability flags, and one conformance suite
 * (test/storage/conformance.ts). Devices upload straight to storage with temporary credentials the server
 * issues, scoped to one prefix; the server itself only checks, reads, presigns
 * and deletes. Every provider (the embedded `local` store, `minio` and `aws` through s3/s3.provider.ts;
 * Aliyun OSS later) implements this interface and passes the shared conformance suite in test/storage.
 */
import type { Readable } from 'node:stream';

/** What devices are told the storage is (DJI `provider`, docs/protocol.md §3.4). */
export type WireProvider = 'minio' | 'aws' | 'ali';

/** Operations a credential may perform, always within its scope. */
export type StorageAction = 'get' | 'put' | 'list' | 'delete';

export interface UploadCredentialRequest {
  /** Key prefix without a trailing slash, e.g. `<workspace_id>/media`; keys must start with `prefix/`. */
  prefix: string;
  ttlSeconds: number;
  /** Defaults to ['put', 'get']. */
  actions?: StorageAction[];
  /** The host name the device used to reach Skyvault, to build an endpoint it can reach. */
  publicHostname?: string | undefined;
}

/** Temporary credentials in DJI's `sts` / `storage_config_get` shape, still camelCase. */
export interface UploadCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** http(s) URL of the S3 endpoint for the device. */
  endpoint: string;
  bucket: string;
  region: string;
  provider: WireProvider;
  prefix: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** Quoted S3 ETag, e.g. `"9b2cf535f27731c974343645a3985328"` or `"…-3"` for multipart. */
  etag: string;
  contentType: string;
  /** Epoch milliseconds. */
  lastModified: number;
  /**
   * The MD5 of the object's bytes (lower-case hex) when the store knows it: a single-part upload on the
   * embedded store, whose ETag is that MD5. Undefined where it is not known (multipart objects; cloud
   * ETags that are not MD5s, such as SSE-KMS).
   */
  md5?: string | undefined;
}

export interface ByteRange {
  /** Inclusive. */
  start: number;
  /** Inclusive. */
  end: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Pass back as `after` for the next page; undefined on the last page. */
  nextAfter: string | undefined;
}

export interface StorageProvider {
  readonly wireProvider: WireProvider;
  readonly bucket: string;
  readonly region: string;
  issueUploadCredentials(request: UploadCredentialRequest): Promise<UploadCredentials>;
  /** The endpoint URL devices and browsers reach, for clients that reach Skyvault by `hostname`. */
  endpointFor(hostname?: string): string;
  /** A URL that GETs `key` without other credentials until it expires. */
  presignGet(
    key: string,
    options: { ttlSeconds: number; publicHostname?: string | undefined; downloadName?: string },
  ): Promise<string>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** undefined when the object does not exist. */
  get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable } | undefined>;
  put(key: string, body: Readable | Buffer, options?: { contentType?: string }): Promise<ObjectInfo>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Objects under `prefix` in key order, at most `limit`, after the key `after`. */
  list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage>;
  close(): Promise<void>;
}
