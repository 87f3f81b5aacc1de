/**
 * Temporary credentials from STS AssumeRole (MinIO, AWS), one set per scope (prefix, actions, lifetime)
 * shared by every device of a workspace until half its lifetime is gone: devices ask for credentials at
 * every upload batch, and one STS call per request would be slow and, on AWS, throttled. Concurrent
 * requests for the same scope wait for the same call.
 *
 * The lifetime asked for is SKYVAULT_CREDENTIAL_TTL, clamped to what the provider allows: AWS refuses a
 * DurationSeconds above the role's maximum session duration (one hour by default, and always one hour
 * when Skyvault itself runs on role credentials) with a ValidationError; Skyvault then falls back to
 * 3600 s and says so once.
 */
import { createHash } from 'node:crypto';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { Logger } from '../../shared/logger.ts';
import type { StorageAction } from '../provider.ts';
import { sessionPolicy } from './session-policy.ts';

export interface IssuedStsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface StsCredentialCacheOptions {
  sts: STSClient;
  bucket: string;
  /** MinIO ignores it; AWS needs the role's ARN. */
  roleArn: string | undefined;
  logger: Logger;
  now?: () => number;
}

/** The lifetime AWS allows every role, whatever its maximum session duration. */
const FALLBACK_TTL_SECONDS = 3600;
const CACHE_LIMIT = 10_000;

export class StsCredentialCache {
  private readonly now: () => number;
  private readonly cache = new Map<string, Promise<IssuedStsCredentials>>();
  /** Lowered to FALLBACK_TTL_SECONDS when the provider refuses a longer one. */
  private maxTtlSeconds = Number.POSITIVE_INFINITY;

  constructor(private readonly options: StsCredentialCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The lifetime credentials get now (after clamping), in seconds. */
  ttlFor(requested: number): number {
    return Math.min(requested, this.maxTtlSeconds);
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
      const answer = await this.options.sts.send(
        new AssumeRoleCommand({
          // MinIO ignores both; AWS requires them. A session name says which workspace scope it is.
          RoleArn: this.options.roleArn ?? 'arn:aws:iam::000000000000:role/skyvault',
          RoleSessionName: sessionName(prefix),
          DurationSeconds: ttl,
          Policy: sessionPolicy(this.options.bucket, prefix, actions),
        }),
      );
      const c = answer.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
        throw new Error('STS AssumeRole answered without credentials');
      }
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiresAt: c.Expiration.getTime(),
      };
    } catch (error) {
      if (isDurationRefused(error) && ttl > FALLBACK_TTL_SECONDS) {
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

/** AWS: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role." */
function isDurationRefused(error: unknown): boolean {
  const { name, message } = error as { name?: string; message?: string };
  return name === 'ValidationError' && /DurationSeconds/i.test(message ?? '');
}

/** `skyvault-<12 hex of the prefix>`: STS allows letters, digits and `=,.@-_`, 2 to 64 characters. */
function sessionName(prefix: string): string {
  return `skyvault-${createHash('sha256').update(prefix).digest('hex').slice(0, 12)}`;
}
