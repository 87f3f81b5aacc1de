/**
 * STS AssumeRole for the `minio` and `aws` providers, through the AWS SDK: the role (AWS; MinIO issues
 * credentials for the calling user and ignores it) with the workspace's session policy
 * (session-policy.ts). credential-cache.ts decides when to call it.
 */
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { AssumeRoleRequest, IssuedStsCredentials } from '../credential-cache.ts';
import { sessionPolicy } from './session-policy.ts';

export function awsAssumeRole(
  sts: STSClient,
  bucket: string,
  roleArn: string | undefined,
): (request: AssumeRoleRequest) => Promise<IssuedStsCredentials> {
  return async ({ prefix, actions, ttlSeconds, sessionName }) => {
    const answer = await sts.send(
      new AssumeRoleCommand({
        // MinIO ignores both; AWS requires them. The session name says which workspace scope it is.
        RoleArn: roleArn ?? 'arn:aws:iam::000000000000:role/skyvault',
        RoleSessionName: sessionName,
        DurationSeconds: ttlSeconds,
        Policy: sessionPolicy(bucket, prefix, actions),
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
  };
}

/** AWS: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role." */
export function isAwsDurationRefused(error: unknown): boolean {
  const { name, message } = error as { name?: string; message?: string };
  return name === 'ValidationError' && /DurationSeconds/i.test(message ?? '');
}
