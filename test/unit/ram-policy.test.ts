/**
 * RAM policies on the embedded store's Aliyun STS credentials (src/storage/local/ram-policy.ts): the
 * policy Skyvault's `ali` provider sends is translated to the IAM policy the store evaluates, and holds a
 * session to its workspace; RAM's wildcards and Deny work; what the store cannot evaluate is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type IamRequest, isAllowed, PolicyError } from '../../src/storage/local/iam-policy.ts';
import { parseRamPolicy, ramToIam } from '../../src/storage/local/ram-policy.ts';

const REGION = 'cn-hangzhou';
const BUCKET = 'skyvault';
const object = (key: string) => `arn:aws:s3:::${BUCKET}/${key}`;
const bucket = `arn:aws:s3:::${BUCKET}`;

/** Exactly what the `ali` provider sends for a device of workspace ws1 (put, get, list). */
function providerPolicy(prefix: string, withDelete = false) {
  return {
    Version: '1',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'oss:AbortMultipartUpload',
          ...(withDelete ? ['oss:DeleteObject'] : []),
          'oss:GetObject',
          'oss:ListParts',
          'oss:PutObject',
        ],
        Resource: [`acs:oss:*:*:${BUCKET}/${prefix}/*`],
      },
      {
        Effect: 'Allow',
        Action: ['oss:ListObjects'],
        Resource: [`acs:oss:*:*:${BUCKET}`],
        Condition: { StringLike: { 'oss:Prefix': [`${prefix}/*`] } },
      },
    ],
  };
}

function allows(ram: object, request: IamRequest, region = REGION): boolean {
  return isAllowed(parseRamPolicy(JSON.stringify(ram), region).policy, request);
}

function expectAllowed(ram: object, request: IamRequest, expected: boolean, why = ''): void {
  assert.equal(
    allows(ram, request),
    expected,
    `${request.action} ${request.resource} prefix=${request.prefix} ${why}`,
  );
}

function expectRefused(ram: unknown, element: RegExp): void {
  assert.throws(
    () => parseRamPolicy(typeof ram === 'string' ? ram : JSON.stringify(ram), REGION),
    (error: Error) => {
      assert.ok(error instanceof PolicyError, `a PolicyError, not ${error.name}: ${error.message}`);
      assert.match(error.message, element, 'the message names the element');
      return true;
    },
  );
}

describe("RAM policies: the ali provider's policy", () => {
  const ws1 = providerPolicy('ws1/media');

  it('translates to the equivalent IAM policy', () => {
    assert.deepEqual(ramToIam(ws1, REGION), {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'],
          Resource: [object('ws1/media/*')],
        },
        {
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: [bucket],
          Condition: { StringLike: { 's3:prefix': ['ws1/media/*'] } },
        },
      ],
    });
  });

  it('allows put, get, multipart parts and abort in its prefix only', () => {
    for (const action of [
      's3:PutObject',
      's3:GetObject',
      's3:AbortMultipartUpload',
      's3:ListMultipartUploadParts',
    ] as const) {
      expectAllowed(ws1, { action, resource: object('ws1/media/a.jpg') }, true);
      expectAllowed(ws1, { action, resource: object('ws2/media/a.jpg') }, false, 'another workspace');
      expectAllowed(ws1, { action, resource: object('ws1/thumbnails/a.jpg') }, false, 'a sibling prefix');
    }
    expectAllowed(
      ws1,
      { action: 's3:DeleteObject', resource: object('ws1/media/a.jpg') },
      false,
      'no delete',
    );
    const deleting = providerPolicy('ws1/media', true);
    expectAllowed(deleting, { action: 's3:DeleteObject', resource: object('ws1/media/a.jpg') }, true);
  });

  it('allows listing under its prefix only (oss:Prefix → s3:prefix)', () => {
    expectAllowed(ws1, { action: 's3:ListBucket', resource: bucket, prefix: 'ws1/media/' }, true);
    expectAllowed(ws1, { action: 's3:ListBucket', resource: bucket, prefix: 'ws1/media/2025' }, true);
    for (const prefix of ['ws2/media/', 'ws1/', ''])
      expectAllowed(ws1, { action: 's3:ListBucket', resource: bucket, prefix }, false, 'outside the prefix');
    expectAllowed(ws1, { action: 's3:ListBucket', resource: bucket }, false, 'no prefix at all (HeadBucket)');
  });
});

describe('RAM policies: the language', () => {
  it('wildcards in actions: *, oss:*, oss:List*, case-insensitively', () => {
    const stmt = (Action: string | string[]) => ({
      Version: '1',
      Statement: [{ Effect: 'Allow', Action, Resource: `acs:oss:*:*:${BUCKET}/*` }],
    });
    expectAllowed(stmt('*'), { action: 's3:DeleteObject', resource: object('x') }, true);
    expectAllowed(stmt('oss:*'), { action: 's3:DeleteObject', resource: object('x') }, true);
    expectAllowed(stmt('oss:List*'), { action: 's3:ListMultipartUploadParts', resource: object('x') }, true);
    expectAllowed(stmt('oss:List*'), { action: 's3:GetObject', resource: object('x') }, false);
    expectAllowed(stmt('OSS:getobject'), { action: 's3:GetObject', resource: object('x') }, true);
    assert.deepEqual(
      (
        ramToIam(stmt('oss:List*'), REGION) as { Statement: { Action: string[] }[] }
      ).Statement[0]!.Action.sort(),
      [
        's3:ListAllMyBuckets',
        's3:ListBucket',
        's3:ListBucketMultipartUploads',
        's3:ListMultipartUploadParts',
      ],
      'expanded to the S3 actions of the OSS actions it matches',
    );
  });

  it('an explicit Deny wins over a broader Allow', () => {
    const ram = {
      Version: '1',
      Statement: [
        { Effect: 'Allow', Action: 'oss:*', Resource: [`acs:oss:*:*:${BUCKET}`, `acs:oss:*:*:${BUCKET}/*`] },
        {
          Effect: 'Deny',
          Action: ['oss:DeleteObject', 'oss:PutObject'],
          Resource: `acs:oss:*:*:${BUCKET}/ws1/media/*`,
        },
      ],
    };
    expectAllowed(ram, { action: 's3:PutObject', resource: object('ws3/x') }, true);
    expectAllowed(ram, { action: 's3:PutObject', resource: object('ws1/media/x') }, false, 'denied');
    expectAllowed(ram, { action: 's3:GetObject', resource: object('ws1/media/x') }, true, 'not denied');
  });

  it('resources: any account, the store region or a wildcard; another region never matches', () => {
    const on = (resource: string) => ({
      Version: '1',
      Statement: [{ Effect: 'Allow', Action: 'oss:GetObject', Resource: resource }],
    });
    const get = { action: 's3:GetObject' as const, resource: object('ws1/a.jpg') };
    expectAllowed(
      on(`acs:oss:cn-hangzhou:1234567890123456:${BUCKET}/*`),
      get,
      true,
      'the region, an account',
    );
    expectAllowed(on(`acs:oss:cn-*:*:${BUCKET}/ws1/*`), get, true, 'a region pattern');
    expectAllowed(on(`acs:oss:cn-beijing:*:${BUCKET}/*`), get, false, 'another region');
    expectAllowed(on('acs:oss:*:*:*'), get, true, 'everything');
    expectAllowed(on('*'), get, true, 'everything');
    expectAllowed(on(`acs:oss:*:*:other/*`), get, false, 'another bucket');
    assert.deepEqual(
      ramToIam(on(`acs:oss:cn-beijing:*:${BUCKET}/*`), REGION),
      {
        Version: '2012-10-17',
        Statement: [],
      },
      'a statement about another region is dropped: it can apply to nothing here',
    );
  });

  it('StringEquals on oss:Prefix', () => {
    const ram = {
      Version: '1',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'oss:ListObjects',
          Resource: `acs:oss:*:*:${BUCKET}`,
          Condition: { StringEquals: { 'oss:prefix': 'ws1/' } },
        },
      ],
    };
    expectAllowed(ram, { action: 's3:ListBucket', resource: bucket, prefix: 'ws1/' }, true);
    expectAllowed(ram, { action: 's3:ListBucket', resource: bucket, prefix: 'ws1/media/' }, false);
  });
});

describe('RAM policies: what is refused (InvalidParameter.PolicyGrammar at AssumeRole)', () => {
  const allow = (extra: object) => ({
    Version: '1',
    Statement: [{ Effect: 'Allow', Action: 'oss:GetObject', Resource: `acs:oss:*:*:${BUCKET}/*`, ...extra }],
  });

  it('not JSON, not RAM (an IAM version), no statement', () => {
    expectRefused('{"Version":"1","Statement":[', /^Policy: is not valid JSON/);
    expectRefused({ Version: '2012-10-17', Statement: [] }, /^Version:/);
    expectRefused({ Version: '1' }, /^Statement:/);
    expectRefused({ Version: '1', Statement: [], Id: 'x' }, /^Id:/);
  });

  it('elements the store does not evaluate', () => {
    expectRefused(allow({ NotAction: 'oss:PutObject' }), /Statement\[0\]\.NotAction/);
    expectRefused(allow({ Effect: 'Maybe' }), /Statement\[0\]\.Effect/);
    expectRefused(allow({ Condition: { IpAddress: { 'acs:SourceIp': '10.0.0.0/8' } } }), /IpAddress/);
    expectRefused(allow({ Condition: { StringLike: { 'acs:SourceIp': '10.*' } } }), /acs:SourceIp/);
    expectRefused(allow({ Condition: { StringLike: { 'oss:Prefix': '${acs:username}/*' } } }), /variables/);
  });

  it('actions of other services or that the store does not serve, and resources that are not OSS', () => {
    expectRefused(
      allow({ Action: 'ecs:DescribeInstances' }),
      /Statement\[0\]\.Action\[0\]: "ecs:DescribeInstances" is not an OSS action/,
    );
    expectRefused(allow({ Action: ['oss:GetObject', 'oss:PutObjectAcl'] }), /Statement\[0\]\.Action\[1\]/);
    expectRefused(allow({ Resource: 'arn:aws:s3:::skyvault/*' }), /Statement\[0\]\.Resource\[0\]/);
    expectRefused(allow({ Resource: 'acs:ecs:*:*:instance/x' }), /Statement\[0\]\.Resource\[0\]/);
    expectRefused(allow({ Resource: [] }), /Statement\[0\]\.Resource/);
  });
});
