/**
 * The embedded store's OSS Signature V4 verifier (src/storage/local/oss-auth.ts), pinned to Aliyun's
 * published vectors and to what ali-oss itself signs.
 *
 * Vectors: the Aliyun OSS Go SDK v2's signer tests, github.com/aliyun/alibabacloud-oss-go-sdk-v2,
 * oss/signer/signer_test.go (TestV4AuthHeader, TestV4AuthHeaderToken,
 * TestV4AuthHeaderWithAdditionalHeaders, TestV4AuthQuery, TestV4AuthQueryToken,
 * TestV4AuthQueryWithAdditionalHeaders): access key `ak`, secret `sk`, region cn-hangzhou, bucket
 * `bucket`, key `1234+-/123/1.txt`, and a query with names that sort differently encoded (`+param1`,
 * `|param1`) and parameters without values. The Go signer adds x-oss-date (from the signing time),
 * x-oss-content-sha256 and, with a token, x-oss-security-token itself: they are spelled out here.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import OSS from 'ali-oss';
import {
  expectedOssSignature,
  isOssRequest,
  ossCanonicalRequest,
  parseOssAuth,
} from '../../src/storage/local/oss-auth.ts';
import type { S3Error } from '../../src/storage/local/s3-errors.ts';
import { type IncomingRequestParts, parseQuery } from '../../src/storage/local/sigv4.ts';

interface SignUtils {
  authorizationV4(
    accessKeyId: string,
    accessKeySecret: string,
    region: string,
    method: string,
    request: { headers: Record<string, string>; queries?: Record<string, string | null> },
    bucketName?: string,
    objectName?: string,
    additionalHeaders?: string[],
  ): string;
}
// ali-oss's signer, as its client calls it (lib/common/signUtils.js has no type definitions).
const signUtils = createRequire(import.meta.url)('ali-oss/lib/common/signUtils.js') as SignUtils;

const REGION = 'cn-hangzhou';
const SECRET = 'sk';
const PATH = '/bucket/1234%2B-/123/1.txt';
const GO_QUERY = {
  param1: 'value1',
  '+param1': 'value3',
  '|param1': 'value4',
  '+param2': '',
  '|param2': '',
  param2: '',
};
const GO_HEADERS = { 'x-oss-head1': 'value', abc: 'value', zabc: 'value', xyz: 'value' };

function verifies(parts: IncomingRequestParts, secret: string, nowMs: number): boolean {
  const auth = parseOssAuth(parts, REGION, nowMs);
  return expectedOssSignature(parts, auth, secret) === auth.signature;
}

function expectVerified(parts: IncomingRequestParts, nowMs: number, expected: boolean, why: string): void {
  assert.equal(verifies(parts, SECRET, nowMs), expected, why);
}

function expectRefused(run: () => unknown, code: string, message?: RegExp): void {
  assert.throws(run, (error: S3Error) => {
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message, 'the message explains');
    return true;
  });
}

/** A header-signed request of the Go vectors, signed at `date` (yyyymmddThhmmssZ). */
function goHeaderRequest(
  date: string,
  signature: string,
  extra: { token?: string; additional?: string } = {},
): IncomingRequestParts {
  const additional = extra.additional ? `,AdditionalHeaders=${extra.additional}` : '';
  return {
    method: 'PUT',
    rawPath: PATH,
    query: { ...GO_QUERY },
    headers: {
      ...GO_HEADERS,
      'content-type': 'text/plain',
      'x-oss-content-sha256': 'UNSIGNED-PAYLOAD',
      'x-oss-date': date,
      ...(extra.token ? { 'x-oss-security-token': extra.token } : {}),
      authorization: `OSS4-HMAC-SHA256 Credential=ak/${date.slice(0, 8)}/${REGION}/oss/aliyun_v4_request${additional},Signature=${signature}`,
    },
  };
}

/** A presigned request of the Go vectors (TestV4AuthQuery…), signed at `date`, valid 599 s. */
function goQueryRequest(
  date: string,
  signature: string,
  extra: { token?: string; additional?: string } = {},
): IncomingRequestParts {
  return {
    method: 'PUT',
    rawPath: PATH,
    query: {
      ...GO_QUERY,
      'x-oss-signature-version': 'OSS4-HMAC-SHA256',
      'x-oss-date': date,
      'x-oss-expires': '599',
      'x-oss-credential': `ak/${date.slice(0, 8)}/${REGION}/oss/aliyun_v4_request`,
      ...(extra.token ? { 'x-oss-security-token': extra.token } : {}),
      ...(extra.additional ? { 'x-oss-additional-headers': extra.additional } : {}),
      'x-oss-signature': signature,
    },
    headers: { ...GO_HEADERS, 'content-type': 'application/octet-stream' },
  };
}

const at = (isoSeconds: string) => Date.parse(isoSeconds);

describe('OSS Signature V4: Aliyun Go SDK v2 vectors (oss/signer/signer_test.go)', () => {
  it('TestV4AuthHeader: e21d18da…', () => {
    const parts = goHeaderRequest(
      '20231216T162057Z',
      'e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe',
    );
    const now = at('2023-12-16T16:20:57Z');
    expectVerified(parts, now, true, 'the published signature verifies');
    const auth = parseOssAuth(parts, REGION, now);
    assert.equal(
      ossCanonicalRequest(parts, auth),
      [
        'PUT',
        '/bucket/1234%2B-/123/1.txt',
        '%2Bparam1=value3&%2Bparam2&%7Cparam1=value4&%7Cparam2&param1=value1&param2',
        'content-type:text/plain\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20231216T162057Z\nx-oss-head1:value\n',
        '',
        'UNSIGNED-PAYLOAD',
      ].join('\n'),
      'the canonical request: sorted by encoded name, names without values alone, abc/zabc/xyz unsigned',
    );
    expectVerified(
      { ...parts, headers: { ...parts.headers, 'x-oss-head1': 'other' } },
      now,
      false,
      'an x-oss-* header is signed',
    );
    expectVerified(
      { ...parts, headers: { ...parts.headers, abc: 'other', host: 'elsewhere' } },
      now,
      true,
      'headers outside the signed set (Host included) are not',
    );
    assert.equal(verifies(parts, 'not-sk', now), false, 'another secret does not verify');
  });

  it('TestV4AuthHeaderToken: b94a3f99…, with x-oss-security-token', () => {
    const parts = goHeaderRequest(
      '20231217T034736Z',
      'b94a3f999cf85bcdc00d332fbd3734ba03e48382c36fa4d5af5df817395bd9ea',
      { token: 'token' },
    );
    const now = at('2023-12-17T03:47:36Z');
    expectVerified(parts, now, true, 'the published signature verifies');
    assert.equal(parseOssAuth(parts, REGION, now).sessionToken, 'token', 'the token is read');
  });

  it('TestV4AuthHeaderWithAdditionalHeaders: 4a4183c1…, AdditionalHeaders=abc;zabc', () => {
    const parts = goHeaderRequest(
      '20231216T172512Z',
      '4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f',
      { additional: 'abc;zabc' },
    );
    const now = at('2023-12-16T17:25:12Z');
    expectVerified(parts, now, true, 'the published signature verifies');
    expectVerified(
      { ...parts, headers: { ...parts.headers, zabc: 'other' } },
      now,
      false,
      'an additional header is signed',
    );
  });

  it('TestV4AuthQuery: a39966c6…, presigned', () => {
    const parts = goQueryRequest(
      '20231217T025437Z',
      'a39966c61718be0d5b14e668088b3fa07601033f6518ac7b523100014269c0fe',
    );
    expectVerified(parts, at('2023-12-17T03:04:36Z'), true, 'verifies until x-oss-date + 599 s');
    expectRefused(() => parseOssAuth(parts, REGION, at('2023-12-17T03:04:37Z')), 'AccessDenied', /expired/);
    expectVerified(
      { ...parts, query: { ...parts.query, param1: 'other' } },
      at('2023-12-17T03:00:00Z'),
      false,
      'the query is signed',
    );
  });

  it('TestV4AuthQueryToken: 3817ac9d…, presigned with x-oss-security-token', () => {
    const parts = goQueryRequest(
      '20231217T035628Z',
      '3817ac9d206cd6dfc90f1c09c00be45005602e55898f26f5ddb06d7892e1f8b5',
      { token: 'token' },
    );
    expectVerified(parts, at('2023-12-17T04:00:00Z'), true, 'the published signature verifies');
  });

  it('TestV4AuthQueryWithAdditionalHeaders: 6bd984bf…, x-oss-additional-headers=abc;zabc', () => {
    const parts = goQueryRequest(
      '20231217T033009Z',
      '6bd984bfe531afb6db1f7550983a741b103a8c58e5e14f83ea474c2322dfa2b7',
      { additional: 'abc;zabc' },
    );
    expectVerified(parts, at('2023-12-17T03:35:00Z'), true, 'the published signature verifies');
  });
});

describe("OSS Signature V4: what ali-oss's own signer produces verifies", () => {
  const ak = 'STS.SVEXAMPLE';
  const secret = 'ali-oss-secret-0123456789';
  const signedAt = new Date('2025-03-01T10:20:30Z');
  const date = '20250301T102030Z';

  function signed(
    method: string,
    key: string,
    headers: Record<string, string>,
    queries: Record<string, string | null>,
    additional?: string[],
  ): IncomingRequestParts {
    const all = { 'x-oss-date': date, 'x-oss-content-sha256': 'UNSIGNED-PAYLOAD', ...headers };
    const authorization = signUtils.authorizationV4(
      ak,
      secret,
      REGION,
      method,
      { headers: all, queries },
      'skyvault',
      key,
      additional,
    );
    // On the wire: ali-oss's path (getReqUrl) and query (a value-less subresource is `name=`).
    const rawPath = `/skyvault/${key
      .split('/')
      .map((s) => encodeURIComponent(s))
      .join('/')}`;
    const rawQuery = Object.entries(queries)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v ?? '')}`)
      .join('&');
    const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), v]));
    return {
      method,
      rawPath,
      query: parseQuery(rawQuery),
      headers: { ...lower, authorization, host: 'skyvault.oss-cn-hangzhou.aliyuncs.com' },
    };
  }

  const ok = (parts: IncomingRequestParts) => {
    const auth = parseOssAuth(parts, REGION, signedAt.getTime());
    return expectedOssSignature(parts, auth, secret) === auth.signature;
  };

  it('a PUT with Content-MD5, Content-Type and an STS token', () => {
    const parts = signed(
      'PUT',
      'ws1/media/DJI 0001 (1)+x*y.jpg',
      {
        'Content-Type': 'image/jpeg',
        'Content-MD5': 'XrY7u+Ae7tCTyyK7j1rNww==',
        'x-oss-security-token': 'sv2.token.mac',
      },
      {},
    );
    assert.equal(ok(parts), true, 'ali-oss and the store agree');
    const tampered = { ...parts, headers: { ...parts.headers, 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' } };
    assert.equal(ok(tampered), false, 'a changed Content-MD5 does not verify');
    const otherKey = { ...parts, rawPath: parts.rawPath.replace('ws1', 'ws2') };
    assert.equal(ok(otherKey), false, 'another key does not verify');
    const auth = parseOssAuth(parts, REGION, signedAt.getTime());
    const flipped = auth.signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const forged = {
      ...parts,
      headers: {
        ...parts.headers,
        authorization: String(parts.headers.authorization).replace(auth.signature, flipped),
      },
    };
    assert.equal(ok(forged), false, 'a tampered signature does not verify');
  });

  it('multipart subresources (value-less uploads, partNumber and uploadId) and a list query', () => {
    assert.equal(ok(signed('POST', 'ws1/media/big.mp4', {}, { uploads: null })), true, 'initiate');
    assert.equal(
      ok(signed('PUT', 'ws1/media/big.mp4', {}, { partNumber: '2', uploadId: 'abc-123' })),
      true,
      'upload part',
    );
    assert.equal(
      ok(
        signed(
          'GET',
          '',
          {},
          { 'list-type': '2', prefix: 'ws1/media/', 'max-keys': '2', 'start-after': 'ws1/media/a' },
        ),
      ),
      true,
      'ListObjectsV2 on the bucket (canonical URI /skyvault/)',
    );
  });

  it('additional headers ali-oss is asked to sign', () => {
    const parts = signed('GET', 'ws1/media/a.jpg', { Range: 'bytes=0-9' }, {}, ['Range']);
    assert.equal(ok(parts), true, 'signed with range');
    assert.equal(
      ok({ ...parts, headers: { ...parts.headers, range: 'bytes=0-99' } }),
      false,
      'range is signed',
    );
  });

  it("signatureUrlV4's presigned URLs, with a response-content-disposition", async () => {
    const client = new OSS({
      region: `oss-${REGION}`,
      endpoint: 'http://127.0.0.1:9',
      bucket: 'skyvault',
      accessKeyId: ak,
      accessKeySecret: secret,
      stsToken: 'sv2.token.mac',
      authorizationV4: true,
      refreshSTSTokenInterval: 3_600_000,
      refreshSTSToken: async () => ({ accessKeyId: ak, accessKeySecret: secret, stsToken: 'sv2.token.mac' }),
      ...({ sldEnable: true } as object),
    });
    const url = new URL(
      await client.signatureUrlV4(
        'GET',
        60,
        {
          headers: {},
          queries: { 'response-content-disposition': "attachment; filename*=UTF-8''a%20b.jpg" },
        },
        'ws1/media/a b.jpg',
      ),
    );
    const parts: IncomingRequestParts = {
      method: 'GET',
      rawPath: url.pathname,
      query: parseQuery(url.search.slice(1)),
      headers: { host: url.host },
    };
    const auth = parseOssAuth(parts, REGION, Date.now());
    assert.equal(auth.kind, 'query');
    assert.equal(auth.sessionToken, 'sv2.token.mac', 'the token travels in the query');
    assert.equal(expectedOssSignature(parts, auth, secret), auth.signature, 'the URL verifies');
    const other = { ...parts, rawPath: parts.rawPath.replace('a%20b', 'c') };
    assert.equal(expectedOssSignature(other, auth, secret) === auth.signature, false, 'only for its key');
  });
});

describe('OSS Signature V4: what is refused before the signature is computed', () => {
  const base = goHeaderRequest(
    '20231216T162057Z',
    'e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe',
  );
  const now = at('2023-12-16T16:20:57Z');
  const withAuthorization = (value: string): IncomingRequestParts => ({
    ...base,
    headers: { ...base.headers, authorization: value },
  });

  it('a clock more than 15 minutes off (header auth): RequestTimeTooSkewed', () => {
    parseOssAuth(base, REGION, now + 15 * 60_000);
    expectRefused(() => parseOssAuth(base, REGION, now + 15 * 60_000 + 1000), 'RequestTimeTooSkewed');
    expectRefused(() => parseOssAuth(base, REGION, now - 16 * 60_000), 'RequestTimeTooSkewed');
  });

  it('a scope naming another region, or the region with its oss- prefix', () => {
    expectRefused(() => parseOssAuth(base, 'cn-beijing', now), 'AuthorizationHeaderMalformed', /cn-beijing/);
    const prefixed = withAuthorization(
      String(base.headers.authorization).replace('/cn-hangzhou/', '/oss-cn-hangzhou/'),
    );
    expectRefused(() => parseOssAuth(prefixed, REGION, now), 'AuthorizationHeaderMalformed', /oss-/);
  });

  it('a malformed header, a wrong product, OSS Signature V1, a missing x-oss-date', () => {
    expectRefused(
      () => parseOssAuth(withAuthorization('OSS4-HMAC-SHA256 Signature=abc'), REGION, now),
      'AuthorizationHeaderMalformed',
    );
    expectRefused(
      () =>
        parseOssAuth(
          withAuthorization(String(base.headers.authorization).replace('/oss/', '/s3/')),
          REGION,
          now,
        ),
      'AuthorizationHeaderMalformed',
    );
    expectRefused(
      () => parseOssAuth(withAuthorization('OSS ak:kSHKmLxlyEAKtZPkJhG9bZb5k7M='), REGION, now),
      'AuthorizationHeaderMalformed',
      /Version 1/,
    );
    const { 'x-oss-date': _date, ...undated } = base.headers;
    expectRefused(
      () => parseOssAuth({ ...base, headers: undated }, REGION, now),
      'AccessDenied',
      /x-oss-date/,
    );
  });

  it('a payload hash that is neither UNSIGNED-PAYLOAD nor a hex SHA-256 (OSS has no aws-chunked)', () => {
    const streaming = {
      ...base,
      headers: { ...base.headers, 'x-oss-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' },
    };
    expectRefused(() => parseOssAuth(streaming, REGION, now), 'InvalidArgument');
  });

  it('presigned: expiry bounds and the signature version', () => {
    const parts = goQueryRequest(
      '20231217T025437Z',
      'a39966c61718be0d5b14e668088b3fa07601033f6518ac7b523100014269c0fe',
    );
    const t = at('2023-12-17T02:55:00Z');
    for (const expires of ['0', '604801', 'abc'])
      expectRefused(
        () => parseOssAuth({ ...parts, query: { ...parts.query, 'x-oss-expires': expires } }, REGION, t),
        'AuthorizationQueryParametersError',
      );
    expectRefused(
      () =>
        parseOssAuth({ ...parts, query: { ...parts.query, 'x-oss-signature-version': 'OSS2' } }, REGION, t),
      'AuthorizationQueryParametersError',
    );
  });

  it('tells the dialects apart by the shape of the request', () => {
    const dialect = (headers: IncomingRequestParts['headers'], query: IncomingRequestParts['query'] = {}) =>
      isOssRequest({ method: 'GET', rawPath: '/', headers, query });
    assert.equal(dialect({ authorization: 'OSS4-HMAC-SHA256 Credential=x' }), true, 'OSS V4 header');
    assert.equal(dialect({ authorization: 'OSS ak:sig' }), true, 'OSS V1 header (refused later)');
    assert.equal(dialect({}, { 'x-oss-signature-version': 'OSS4-HMAC-SHA256' }), true, 'OSS V4 query');
    assert.equal(dialect({ authorization: 'AWS4-HMAC-SHA256 Credential=x' }), false, 'AWS header');
    assert.equal(dialect({}, { 'X-Amz-Signature': 'x' }), false, 'AWS query');
    assert.equal(dialect({}), false, 'anonymous: answered as S3 does');
  });
});
