import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type IamRequest,
  isAllowed,
  parsePolicy,
  PolicyError,
  validatePolicy,
  wildcardMatch,
} from '../../src/storage/local/iam-policy.ts';

const BUCKET_ARN = 'arn:aws:s3:::skyvault';
const object = (key: string) => `${BUCKET_ARN}/${key}`;

/** A policy of these statements, through the same parser AssumeRole uses. */
function policy(...statements: object[]) {
  return parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements })).policy;
}

function allowed(statements: object[], request: IamRequest): boolean {
  return isAllowed(policy(...statements), request);
}

// Every assertion carries its message: without one, Node 20 re-parses the test's source to word the
// failure, which can hang under the TypeScript loader instead of failing.
function expectAllowed(statements: object[], request: IamRequest, expected: boolean, why = ''): void {
  assert.equal(
    allowed(statements, request),
    expected,
    `${request.action} ${request.resource} prefix=${request.prefix} ${why}`,
  );
}

function expectMatch(pattern: string, value: string, expected: boolean, why = ''): void {
  assert.equal(
    wildcardMatch(pattern, value),
    expected,
    `${JSON.stringify(pattern)} vs ${JSON.stringify(value)} ${why}`,
  );
}

/** The element a refused policy document is blamed on. */
function refusedElement(document: unknown): string {
  try {
    validatePolicy(document);
  } catch (error) {
    assert.ok(error instanceof PolicyError, String(error));
    return error.element;
  }
  assert.fail(`policy was accepted: ${JSON.stringify(document)}`);
}

const uploader = {
  Effect: 'Allow',
  Action: ['s3:PutObject', 's3:GetObject'],
  Resource: object('ws1/media/*'),
};
const lister = {
  Effect: 'Allow',
  Action: 's3:ListBucket',
  Resource: BUCKET_ARN,
  Condition: { StringLike: { 's3:prefix': 'ws1/media/*' } },
};

describe('iam-policy', () => {
  describe(wildcardMatch.name, () => {
    it('matches * across slashes, ? as one character, the rest literally and case-sensitively', () => {
      expectMatch('ws1/*', 'ws1/media/a/b.jpg', true);
      expectMatch('ws1/*', 'ws1/', true, '* also matches nothing');
      expectMatch('*.jpg', 'a/b/c.jpg', true);
      expectMatch('ws?/media', 'ws1/media', true);
      expectMatch('ws?/media', 'ws10/media', false);
      expectMatch('ws?/media', 'ws/media', false);
      expectMatch('ws1/*', 'ws2/media/a', false);
      expectMatch('WS1/*', 'ws1/a', false);
      expectMatch('ws1', 'ws1/a', false, 'no implicit trailing wildcard');
      expectMatch('a*b*c', 'aXXbYYc', true);
      expectMatch('a*b*c', 'aXXbYY', false);
      expectMatch('*', '', true);
      expectMatch('?', '', false);
      expectMatch('[a]', '[a]', true, 'brackets are literal, not a class');
    });

    it('stays fast on patterns that make a backtracking regex exponential', () => {
      const started = process.hrtime.bigint();
      expectMatch(`${'a*'.repeat(30)}b`, 'a'.repeat(5000), false);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.ok(ms < 1000, `took ${ms} ms`);
    });
  });

  describe('evaluation', () => {
    it('allows the listed actions on matching resources only', () => {
      expectAllowed([uploader], { action: 's3:PutObject', resource: object('ws1/media/a.jpg') }, true);
      expectAllowed([uploader], { action: 's3:GetObject', resource: object('ws1/media/x/y.mp4') }, true);
      expectAllowed([uploader], { action: 's3:PutObject', resource: object('ws2/media/a.jpg') }, false);
      expectAllowed([uploader], { action: 's3:PutObject', resource: object('ws1/mediaX/a.jpg') }, false);
      expectAllowed([uploader], { action: 's3:DeleteObject', resource: object('ws1/media/a.jpg') }, false);
      expectAllowed(
        [uploader],
        { action: 's3:PutObject', resource: 'arn:aws:s3:::other/ws1/media/a.jpg' },
        false,
      );
    });

    it('matches action names case-insensitively and with wildcards, resources case-sensitively', () => {
      const stmt = (Action: unknown, Resource: unknown = object('*')) => [
        { Effect: 'Allow', Action, Resource },
      ];
      const put = { action: 's3:PutObject', resource: object('k') } as const;
      expectAllowed(stmt('S3:putobject'), put, true);
      expectAllowed(stmt('s3:*'), put, true);
      expectAllowed(stmt('*'), put, true);
      expectAllowed(stmt('s3:Put*'), put, true);
      expectAllowed(stmt('s3:Get*'), put, false);
      expectAllowed(stmt('s3:*Object'), { action: 's3:DeleteObject', resource: object('k') }, true);
      expectAllowed(stmt('s3:PutObject', '*'), put, true);
      expectAllowed(stmt('s3:PutObject', 'arn:aws:s3:::SKYVAULT/*'), put, false);
    });

    it('denies by default: no statement, or none that applies', () => {
      expectAllowed([], { action: 's3:GetObject', resource: object('a') }, false);
      expectAllowed([lister], { action: 's3:GetObject', resource: object('ws1/media/a') }, false);
    });

    it('lets an explicit Deny win over any Allow, whatever the order', () => {
      const allowAll = { Effect: 'Allow', Action: 's3:*', Resource: [BUCKET_ARN, object('*')] };
      const keep = { Effect: 'Deny', Action: 's3:DeleteObject', Resource: object('ws1/keep/*') };
      for (const statements of [
        [allowAll, keep],
        [keep, allowAll],
      ]) {
        expectAllowed(statements, { action: 's3:DeleteObject', resource: object('ws1/keep/a') }, false);
        expectAllowed(statements, { action: 's3:DeleteObject', resource: object('ws1/other/a') }, true);
        expectAllowed(statements, { action: 's3:PutObject', resource: object('ws1/keep/a') }, true);
      }
    });

    it('limits ListBucket to the s3:prefix values of StringLike, and of StringEquals exactly', () => {
      const list = (prefix: string | undefined): IamRequest => ({
        action: 's3:ListBucket',
        resource: BUCKET_ARN,
        prefix,
      });
      expectAllowed([lister], list('ws1/media/'), true);
      expectAllowed([lister], list('ws1/media/2024/'), true);
      expectAllowed([lister], list('ws1/'), false);
      expectAllowed([lister], list('ws2/media/'), false);
      expectAllowed([lister], list(''), false, 'listing the whole bucket');
      expectAllowed([lister], list(undefined), false, 'HeadBucket carries no s3:prefix: the condition fails');

      const exact = {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: BUCKET_ARN,
        Condition: { StringEquals: { 'S3:Prefix': ['ws1/media/', 'ws1/logs/'] } },
      };
      expectAllowed([exact], list('ws1/media/'), true, 'any of the values; key names are case-insensitive');
      expectAllowed([exact], list('ws1/logs/'), true);
      expectAllowed([exact], list('ws1/media/x'), false);
      expectAllowed([exact], list('ws1/media/*'), false);
      const literal = {
        ...exact,
        Condition: { StringEquals: { 's3:prefix': 'ws1/*' } },
      };
      expectAllowed([literal], list('ws1/media/'), false, 'StringEquals has no wildcards');
      expectAllowed([literal], list('ws1/*'), true, 'a * in StringEquals is a literal *');
    });

    it('ANDs the operators of one Condition block', () => {
      const both = {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: BUCKET_ARN,
        Condition: {
          StringLike: { 's3:prefix': 'ws1/*' },
          StringEquals: { 's3:prefix': ['ws1/media/', 'ws2/media/'] },
        },
      };
      const list = (prefix: string): IamRequest => ({
        action: 's3:ListBucket',
        resource: BUCKET_ARN,
        prefix,
      });
      expectAllowed([both], list('ws1/media/'), true);
      expectAllowed([both], list('ws2/media/'), false);
      expectAllowed([both], list('ws1/logs/'), false);
    });

    it('does not apply a Deny whose condition key the request lacks', () => {
      const allowAll = { Effect: 'Allow', Action: 's3:*', Resource: '*' };
      const denyListing = {
        Effect: 'Deny',
        Action: 's3:*',
        Resource: '*',
        Condition: { StringLike: { 's3:prefix': 'private/*' } },
      };
      expectAllowed([allowAll, denyListing], { action: 's3:GetObject', resource: object('private/a') }, true);
      expectAllowed(
        [allowAll, denyListing],
        { action: 's3:ListBucket', resource: BUCKET_ARN, prefix: 'private/x' },
        false,
      );
    });

    it('accepts a single Statement object and returns the document minified', () => {
      const text = `{\n  "Version": "2012-10-17",\n  "Statement": {\n    "Effect": "Allow",\n    "Action": "s3:GetObject",\n    "Resource": "${object('a/*')}"\n  }\n}`;
      const parsed = parsePolicy(text);
      assert.equal(
        parsed.minified,
        `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"${object('a/*')}"}}`,
      );
      assert.equal(isAllowed(parsed.policy, { action: 's3:GetObject', resource: object('a/b') }), true);
    });
  });

  describe('refused documents (never evaluated with a part left out)', () => {
    const base = { Effect: 'Allow', Action: 's3:GetObject', Resource: object('*') };
    const doc = (statement: object, extra: object = {}) => ({
      Version: '2012-10-17',
      Statement: [statement],
      ...extra,
    });

    it('names the element it does not support', () => {
      assert.equal(
        refusedElement(doc({ ...base, Action: undefined, NotAction: 's3:GetObject' })),
        'Statement[0].NotAction',
      );
      assert.equal(refusedElement(doc({ ...base, NotResource: object('x') })), 'Statement[0].NotResource');
      assert.equal(refusedElement(doc({ ...base, Principal: '*' })), 'Statement[0].Principal');
      assert.equal(
        refusedElement(doc({ ...base, Condition: { StringNotLike: { 's3:prefix': 'a' } } })),
        'Statement[0].Condition.StringNotLike',
      );
      assert.equal(
        refusedElement(doc({ ...base, Condition: { StringLikeIfExists: { 's3:prefix': 'a' } } })),
        'Statement[0].Condition.StringLikeIfExists',
      );
      assert.equal(
        refusedElement(doc({ ...base, Condition: { StringLike: { 's3:delimiter': '/' } } })),
        'Statement[0].Condition.StringLike.s3:delimiter',
      );
      assert.equal(refusedElement(doc(base, { Comment: 'x' })), 'Comment');
    });

    it('refuses a missing or other Version, Effect or Statement', () => {
      assert.equal(refusedElement({ Statement: [base] }), 'Version');
      assert.equal(refusedElement({ Version: '2008-10-17', Statement: [base] }), 'Version');
      assert.equal(refusedElement({ Version: '2012-10-17' }), 'Statement');
      assert.equal(refusedElement(doc({ ...base, Effect: 'allow' })), 'Statement[0].Effect');
      assert.equal(refusedElement([base]), 'Policy');
      assert.equal(refusedElement(doc('s3:GetObject' as unknown as object)), 'Statement[0]');
    });

    it('refuses actions the store does not serve and resources that are not S3 ARNs', () => {
      assert.equal(refusedElement(doc({ ...base, Action: 'iam:PassRole' })), 'Statement[0].Action[0]');
      assert.equal(
        refusedElement(doc({ ...base, Action: ['s3:GetObject', 's3:GetObjectTagging'] })),
        'Statement[0].Action[1]',
      );
      assert.equal(refusedElement(doc({ ...base, Action: 's3:Tag*' })), 'Statement[0].Action[0]');
      assert.equal(refusedElement(doc({ ...base, Action: [] })), 'Statement[0].Action');
      assert.equal(refusedElement(doc({ ...base, Action: [''] })), 'Statement[0].Action[0]');
      assert.equal(refusedElement(doc({ ...base, Resource: undefined })), 'Statement[0].Resource');
      assert.equal(
        refusedElement(doc({ ...base, Resource: 'arn:aws:iam::123456789012:role/x' })),
        'Statement[0].Resource[0]',
      );
      assert.equal(
        refusedElement(doc({ ...base, Resource: object('${aws:username}/*') })),
        'Statement[0].Resource[0]',
      );
    });

    it('refuses what is not JSON', () => {
      assert.throws(
        () => parsePolicy('{"Version":'),
        (error: unknown) => {
          assert.ok(error instanceof PolicyError, String(error));
          assert.equal(error.element, 'Policy');
          return true;
        },
      );
    });
  });
});
