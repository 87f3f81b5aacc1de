/**
 * Aliyun STS AssumeRole for the `ali` provider, through ali-oss's own STS client (an RPC call signed
 * with HMAC-SHA1, signature version 1.0): the role SKYVAULT_S3_ROLE_ARN with the workspace's RAM
 * policy (ram-policy.ts). credential-cache.ts decides when to call it.
 */
import OSS from 'ali-oss';
import type { AssumeRoleRequest, IssuedStsCredentials } from '../credential-cache.ts';
import { ramPolicy } from './ram-policy.ts';

export interface AliyunStsOptions {
  /** e.g. https://sts.cn-hangzhou.aliyuncs.com */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  roleArn: string;
  bucket: string;
  timeoutMs?: number;
}

export function aliyunAssumeRole(
  options: AliyunStsOptions,
): (request: AssumeRoleRequest) => Promise<IssuedStsCredentials> {
  const sts = new OSS.STS({
    accessKeyId: options.accessKey,
    accessKeySecret: options.secretKey,
    endpoint: options.endpoint,
  } as OSS.STSOptions & { endpoint: string });
  const timeout = options.timeoutMs ?? 10_000;
  return async ({ prefix, actions, ttlSeconds, sessionName }) => {
    const answer = await sts.assumeRole(
      options.roleArn,
      ramPolicy(options.bucket, prefix, actions),
      ttlSeconds,
      sessionName,
      { timeout, ctx: undefined },
    );
    const c = answer.credentials;
    const expiresAt = Date.parse(c?.Expiration ?? '');
    if (!c?.AccessKeyId || !c.AccessKeySecret || !c.SecurityToken || Number.isNaN(expiresAt)) {
      throw new Error('Aliyun STS AssumeRole answered without credentials');
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.AccessKeySecret,
      sessionToken: c.SecurityToken,
      expiresAt,
    };
  };
}

/**
 * Aliyun: `InvalidParameter.DurationSeconds` when DurationSeconds is outside 900 s to the role's
 * maximum session duration (3600 s unless raised).
 */
export function isAliyunDurationRefused(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return /DurationSeconds/i.test(code ?? '') || /DurationSeconds/i.test(message ?? '');
}
