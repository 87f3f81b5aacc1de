/**
 * The RAM policy the `ali` provider hands Aliyun STS (src/storage/ali/ram-policy.ts): the syntax of
 * Aliyun's "RAM policies for OSS" (Version "1", `acs:oss:*:*:<bucket>/<prefix>/*` resources, the
 * `oss:Prefix` condition for listing), one workspace's prefix only. The embedded store enforces it in
 * test/storage/ali.conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RAM_POLICY_LENGTH, ramPolicy } from '../../src/storage/ali/ram-policy.ts';

describe('the RAM policy of device credentials on Aliyun OSS', () => {
  it('lets devices upload (multipart and resume included) and read under their prefix only', () => {
    assert.deepEqual(JSON.parse(ramPolicy('media', 'ws1/media', ['put', 'get'])), {
      Version: '1',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['oss:AbortMultipartUpload', 'oss:GetObject', 'oss:ListParts', 'oss:PutObject'],
          Resource: ['acs:oss:*:*:media/ws1/media/*'],
        },
      ],
    });
  });

  it('limits listing to the prefix with the oss:Prefix condition, and adds deletion only when asked', () => {
    const policy = JSON.parse(ramPolicy('media', 'ws1/logs', ['list', 'delete']));
    assert.deepEqual(policy.Statement, [
      { Effect: 'Allow', Action: ['oss:DeleteObject'], Resource: ['acs:oss:*:*:media/ws1/logs/*'] },
      {
        Effect: 'Allow',
        Action: ['oss:ListObjects'],
        Resource: ['acs:oss:*:*:media'],
        Condition: { StringLike: { 'oss:Prefix': ['ws1/logs/*'] } },
      },
    ]);
  });

  it('refuses a policy over STS’s 2,048 characters rather than sending it', () => {
    assert.throws(() => ramPolicy('media', 'p'.repeat(MAX_RAM_POLICY_LENGTH), ['put']), /over STS's 2048/);
  });
});
