import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionPolicy } from '../../src/storage/s3/session-policy.ts';

const WS = '3f1c2a9e-7d4b-4e8a-9c1f-0b2d3e4f5a6b';

describe('the STS session policy of device credentials', () => {
  it('allows uploads (multipart included) and reads in the prefix only', () => {
    assert.deepEqual(JSON.parse(sessionPolicy('skyvault', `${WS}/media`, ['put', 'get'])), {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'],
          Resource: [`arn:aws:s3:::skyvault/${WS}/media/*`],
        },
      ],
    });
  });

  it('limits listing to the prefix with the s3:prefix condition, on the bucket', () => {
    const policy = JSON.parse(sessionPolicy('b', `${WS}/logs`, ['list', 'delete']));
    assert.deepEqual(policy.Statement, [
      { Effect: 'Allow', Action: ['s3:DeleteObject'], Resource: [`arn:aws:s3:::b/${WS}/logs/*`] },
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: ['arn:aws:s3:::b'],
        Condition: { StringLike: { 's3:prefix': [`${WS}/logs/*`] } },
      },
    ]);
  });

  it('stays under STS’s 2,048 characters with every action', () => {
    const longest = sessionPolicy('b'.repeat(63), `${WS}/media`, ['put', 'get', 'list', 'delete']);
    assert.ok(longest.length < 1024, `${longest.length} characters`);
    assert.throws(() => sessionPolicy('b', 'x'.repeat(2100), ['get']), /over STS's 2048/);
  });
});
