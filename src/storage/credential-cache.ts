/**
 * Temporary credentials from a provider's STS AssumeRole (MinIO, AWS, Aliyun), one set per scope
 * (prefix, actions, lifetime) shared by every device of a workspace until half its lifetime is gone:
 * devices ask for credentials at every upload batch, and one STS call per request would be slow and, on
 * AWS and Aliyun, throttled. Concurrent requests for the same scope wait for the same call.
 *
 * The lifetime asked for is SKYVAULT_CREDENTIAL_TTL, clamped to what the provider allows: AWS and
 * Aliyun refuse a DurationSeconds above the role's maximum session duration (one hour by default; on
 * AWS always one hour when Skyvault itself runs on role credentials). The cache then falls back to
 * 3600 s, which every role allows, and says so once.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../shared/logger.ts';
import type { StorageAction, UploadCredentialRequest, UploadCredentials } from './provider.ts';

export interface IssuedStsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface AssumeRoleRequest {
  prefix: string;
  actions: readonly StorageAction[];
  ttlSeconds: number;
  /** `skyvault-<12 hex of the prefix>`, valid for every provider's RoleSessionName. */
  sessionName: string;
}

export interface CredentialCacheOptions {
  /** One AssumeRole call of the provider's STS. */
  assume(request: AssumeRoleRequest): Promise<IssuedStsCredentials>;
  /** Whether an error is the provider refusing DurationSeconds as above the role's maximum. */
  isDurationRefused(error: unknown): boolean;
  logger: Logger;
  now?: () => number;
}

/** The lifetime every AWS and Aliyun role allows, whatever its maximum session duration. */
export const FALLBACK_TTL_SECONDS = 3600;
const CACHE_LIMIT = 10_000;

export class CredentialCache {
  private readonly now: () => number;
  private readonly cache = new Map<string, Promise<IssuedStsCredentials>>();
  /** Lowered to FALLBACK_TTL_SECONDS when the provider refuses a longer one. */
  private maxTtlSeconds = Number.POSITIVE_INFINITY;

  constructor(private readonly options: CredentialCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The lifetime credentials get now (after clamping), in seconds. */
  ttlFor(requested: number): number {
    return Math.min(requested, this.maxTtlSeconds);
  }

  /**
   * What a device gets (DJI's `sts` shape) for `request`: the cached set of its scope, with where to
   * upload (`storage`: endpoint, bucket, region, provider).
   */
  async uploadCredentials(
    request: UploadCredentialRequest,
    storage: Pick<UploadCredentials, 'endpoint' | 'bucket' | 'region' | 'provider'>,
  ): Promise<UploadCredentials> {
    const prefix = request.prefix.replace(/\/+$/, '');
    const issued = await this.credentials(prefix, request.actions ?? ['put', 'get'], request.ttlSeconds);
    return {
      accessKeyId: issued.accessKeyId,
      accessKeySecret: issued.secretAccessKey,
      securityToken: issued.sessionToken,
      expiresAt: issued.expiresAt,
      ...storage,
      prefix,
    };
  }

  async credentials(
    prefix: string,
    actions: readonly StorageAction[],
    ttlSeconds: number,
  ): Promise<IssuedStsCredentials> {
    const key = `${prefix}\n${[...actions].sort().join(',')}\n${ttlSeconds}`;
    const cached = this.cache.get(key);
    if (cached) {
      const issued = await cached.catch(() => undefined);
      // Kept while at least half its lifetime is left, so a device always gets a usable share of it.
      if (issued && issued.expiresAt - this.now() >= (this.ttlFor(ttlSeconds) * 1000) / 2) return issued;
      if (this.cache.get(key) !== cached) return this.credentials(prefix, actions, ttlSeconds);
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    const call = this.assume(prefix, actions, ttlSeconds);
    this.cache.set(key, call);
    call.catch(() => {
      if (this.cache.get(key) === call) this.cache.delete(key);
    });
    return call;
  }

  private async assume(
    prefix: string,
    actions: readonly StorageAction[],
    requestedTtl: number,
  ): Promise<IssuedStsCredentials> {
    const ttl = this.ttlFor(requestedTtl);
    try {
      return await this.options.assume({
        prefix,
        actions,
        ttlSeconds: ttl,
        sessionName: sessionName(prefix),
      });
    } catch (error) {
      if (this.options.isDurationRefused(error) && ttl > FALLBACK_TTL_SECONDS) {
        this.maxTtlSeconds = FALLBACK_TTL_SECONDS;
        this.options.logger.warn(
          { requested: ttl, used: FALLBACK_TTL_SECONDS },
          'STS refused SKYVAULT_CREDENTIAL_TTL (above the role’s maximum session duration): upload credentials last 3600 s',
        );
        return this.assume(prefix, actions, requestedTtl);
      }
      throw error;
    }
  }
}

/** `skyvault-<12 hex of the prefix>`: STS allows letters, digits and `=,.@-_`, 2 to 64 characters. */
function sessionName(prefix: string): string {
  return `skyvault-${createHash('sha256').update(prefix).digest('hex').slice(0, 12)}`;
}
