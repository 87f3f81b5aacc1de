/**
 * The inline session policy Skyvault passes to STS AssumeRole (MinIO, AWS): the temporary credentials
 * a device receives may do only what the policy allows, within one workspace's prefix, whatever the
 * assumed role or user may do beyond it (session permissions are the intersection of the two).
 *
 * IAM syntax (AWS and MinIO read the same): object actions on `arn:aws:s3:::<bucket>/<prefix>/*`;
 * listing is a bucket action, limited to the prefix by the `s3:prefix` condition. Uploads need
 * PutObject (which covers multipart initiate, parts and complete) plus AbortMultipartUpload and
 * ListMultipartUploadParts, which DJI's uploader uses to resume. Thumbnails and previews live beside
 * `media` under the workspace (`<ws>/thumbnails`, `<ws>/previews`), outside every prefix devices get.
 */
import type { StorageAction } from '../provider.ts';

const OBJECT_ACTIONS: Record<Exclude<StorageAction, 'list'>, string[]> = {
  put: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
  get: ['s3:GetObject'],
  delete: ['s3:DeleteObject'],
};

/** STS refuses a session policy over 2,048 characters; ours stays far below. */
export const MAX_SESSION_POLICY_LENGTH = 2048;

export function sessionPolicy(bucket: string, prefix: string, actions: readonly StorageAction[]): string {
  const objectActions = [...new Set(actions.flatMap((a) => (a === 'list' ? [] : OBJECT_ACTIONS[a])))].sort();
  const statements: object[] = [];
  if (objectActions.length > 0) {
    statements.push({
      Effect: 'Allow',
      Action: objectActions,
      Resource: [`arn:aws:s3:::${bucket}/${prefix}/*`],
    });
  }
  if (actions.includes('list')) {
    statements.push({
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: [`arn:aws:s3:::${bucket}`],
      Condition: { StringLike: { 's3:prefix': [`${prefix}/*`] } },
    });
  }
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: statements });
  if (policy.length > MAX_SESSION_POLICY_LENGTH) {
    throw new Error(`the session policy for ${prefix} is ${policy.length} characters, over STS's 2048`);
  }
  return policy;
}
