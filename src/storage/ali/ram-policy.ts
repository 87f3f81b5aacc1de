/**
 * The RAM policy Skyvault passes to Aliyun STS AssumeRole for the `ali` provider: the temporary
 * credentials a device receives may do only what it allows, within one workspace's prefix, whatever
 * the assumed role may do beyond it (as with AWS, the session's permissions are the intersection of the
 * role's policy and this one).
 *
 * RAM syntax (help.aliyun.com, "RAM policies for OSS"): `Version` "1"; object actions on
 * `acs:oss:*:*:<bucket>/<prefix>/*`; listing is `oss:ListObjects` on `acs:oss:*:*:<bucket>`, limited to
 * the prefix by the `oss:Prefix` condition. Uploads need PutObject (which OSS also checks for multipart
 * initiate, parts and complete), AbortMultipartUpload and ListParts, which resumable uploaders use. The
 * same layout as the S3 session policy (s3/session-policy.ts): thumbnails and previews live outside
 * every prefix devices get.
 */
import type { StorageAction } from '../provider.ts';

const OBJECT_ACTIONS: Record<Exclude<StorageAction, 'list'>, string[]> = {
  put: ['oss:PutObject', 'oss:AbortMultipartUpload', 'oss:ListParts'],
  get: ['oss:GetObject'],
  delete: ['oss:DeleteObject'],
};

/** Aliyun STS refuses a Policy over 2,048 characters (AssumeRole's documented limit). */
export const MAX_RAM_POLICY_LENGTH = 2048;

export function ramPolicy(bucket: string, prefix: string, actions: readonly StorageAction[]): string {
  const objectActions = [...new Set(actions.flatMap((a) => (a === 'list' ? [] : OBJECT_ACTIONS[a])))].sort();
  const statements: object[] = [];
  if (objectActions.length > 0) {
    statements.push({
      Effect: 'Allow',
      Action: objectActions,
      Resource: [`acs:oss:*:*:${bucket}/${prefix}/*`],
    });
  }
  if (actions.includes('list')) {
    statements.push({
      Effect: 'Allow',
      Action: ['oss:ListObjects'],
      Resource: [`acs:oss:*:*:${bucket}`],
      Condition: { StringLike: { 'oss:Prefix': [`${prefix}/*`] } },
    });
  }
  const policy = JSON.stringify({ Version: '1', Statement: statements });
  if (policy.length > MAX_RAM_POLICY_LENGTH) {
    throw new Error(`the RAM policy for ${prefix} is ${policy.length} characters, over STS's 2048`);
  }
  return policy;
}
