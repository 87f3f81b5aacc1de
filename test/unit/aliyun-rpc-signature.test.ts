/**
 * The RPC signature (version 1.0, HMAC-SHA1) the embedded store verifies on Aliyun STS AssumeRole
 * (src/storage/local/aliyun-sts.ts: rpcStringToSign / rpcSignature), pinned to Aliyun's published
 * examples, both with AccessKey ID `testid` and secret `testsecret` (HMAC key `testsecret&`):
 *
 * - IMS CreateUser: AlibabaCloudDocs/ram, "intl.en-US/API Reference/API Reference (IMS)/Request
 *   signatures.md" (string to sign and signature `02heLegtw4+BFamznl1Ltj+vJ4A=`);
 * - ECS DescribeRegions: Aliyun's ECS "Signature method" page (alibabacloud.com/help/doc-detail/28139.htm),
 *   read here from the stored copies at developer.aliyun.com/ask/210168 and in Aliyun's docs repository
 *   ("Sign signatures", the same request), signature `CT9X0VtwR86fNWSnsc6v8YGOjuE=`. That page prints its
 *   string to sign with the `&` between parameters unencoded (the signature is of the encoded form,
 *   which its own signed URL and every SDK test of the vector use).
 *
 * Both are GET requests; AssumeRole is POSTed, which only changes the first word of the string to sign,
 * so ali-oss's own STS client is checked to agree on a POST too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OSS from 'ali-oss';
import { percentEncode, rpcSignature, rpcStringToSign } from '../../src/storage/local/aliyun-sts.ts';

const SECRET = 'testsecret';

describe("Aliyun RPC signature V1: Aliyun's published examples", () => {
  it('IMS CreateUser (API Reference (IMS)/Request signatures)', () => {
    const params: [string, string][] = [
      ['Action', 'CreateUser'],
      ['UserPrincipalName', 'test@example.onaliyun.com'],
      ['DisplayName', 'test'],
      ['SignatureVersion', '1.0'],
      ['Format', 'JSON'],
      ['Timestamp', '2021-01-15T06:02:28Z'],
      ['AccessKeyId', 'testid'],
      ['SignatureMethod', 'HMAC-SHA1'],
      ['Version', '2019-08-15'],
      ['SignatureNonce', '3f6b4e80-56f7-11eb-a256-a9f756ea7e85'],
    ];
    assert.equal(
      rpcStringToSign('GET', params),
      'GET&%2F&AccessKeyId%3Dtestid%26Action%3DCreateUser%26DisplayName%3Dtest%26Format%3DJSON%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3f6b4e80-56f7-11eb-a256-a9f756ea7e85%26SignatureVersion%3D1.0%26Timestamp%3D2021-01-15T06%253A02%253A28Z%26UserPrincipalName%3Dtest%2540example.onaliyun.com%26Version%3D2019-08-15',
      'the published string to sign',
    );
    assert.equal(
      rpcSignature('GET', params, SECRET),
      '02heLegtw4+BFamznl1Ltj+vJ4A=',
      'the published signature',
    );
    assert.equal(
      rpcSignature('GET', [...params, ['Signature', '02heLegtw4+BFamznl1Ltj+vJ4A=']], SECRET),
      '02heLegtw4+BFamznl1Ltj+vJ4A=',
      'the Signature parameter itself is not signed',
    );
  });

  it('ECS DescribeRegions (Signature method)', () => {
    const params = new Map([
      ['TimeStamp', '2016-02-23T12:46:24Z'],
      ['Format', 'XML'],
      ['AccessKeyId', 'testid'],
      ['Action', 'DescribeRegions'],
      ['SignatureMethod', 'HMAC-SHA1'],
      ['SignatureNonce', '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf'],
      ['Version', '2014-05-26'],
      ['SignatureVersion', '1.0'],
    ]);
    assert.equal(
      rpcSignature('GET', params, SECRET),
      'CT9X0VtwR86fNWSnsc6v8YGOjuE=',
      'the published signature',
    );
    assert.notEqual(
      rpcSignature('GET', params, 'testsecreT'),
      'CT9X0VtwR86fNWSnsc6v8YGOjuE=',
      'another secret',
    );
    assert.notEqual(
      rpcSignature('POST', params, SECRET),
      'CT9X0VtwR86fNWSnsc6v8YGOjuE=',
      'the method is signed',
    );
  });

  it("percent-encodes as RFC 3986: `!'()*` too, spaces as %20, `~` kept", () => {
    assert.equal(percentEncode("a b+c*d~e!f'g(h)i/j"), 'a%20b%2Bc%2Ad~e%21f%27g%28h%29i%2Fj');
    assert.equal(percentEncode('测'), '%E6%B5%8B', 'UTF-8');
  });
});

describe("Aliyun RPC signature V1: agrees with ali-oss's STS client", () => {
  it('an AssumeRole POST with a policy full of characters to encode', () => {
    const sts = new OSS.STS({ accessKeyId: 'testid', accessKeySecret: SECRET });
    const params: Record<string, string | number> = {
      Action: 'AssumeRole',
      RoleArn: 'acs:ram::1234567890123456:role/skyvault-devices',
      RoleSessionName: 'skyvault-0123456789ab',
      DurationSeconds: 900,
      Format: 'JSON',
      Version: '2015-04-01',
      AccessKeyId: 'testid',
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      SignatureNonce: 0.123456789,
      Timestamp: '2025-03-01T10:20:30.123Z',
      Policy: JSON.stringify({
        Version: '1',
        Statement: [{ Effect: 'Allow', Action: ['oss:*'], Resource: ["acs:oss:*:*:b/it's (a) test*"] }],
      }),
    };
    // ali-oss's signer is internal to its STS client (lib/sts.js _getSignature).
    const theirs = (
      sts as unknown as { _getSignature(m: string, p: object, k: string): string }
    )._getSignature('POST', params, SECRET);
    const ours = rpcSignature(
      'POST',
      Object.entries(params).map(([k, v]) => [k, String(v)] as const),
      SECRET,
    );
    assert.equal(ours, theirs, 'the same signature');
  });
});
