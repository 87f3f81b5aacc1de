/**
 * The embedded store answers the Aliyun dialect as it answers AWS's: the real `ali-oss` client, signing
 * OSS Signature V4, does every object operation the `ali` provider and DJI's apps do (put with
 * Content-MD5, chunked putStream, head, ranged get, delete, listV2, multipartUpload, signatureUrlV4), and
 * `OSS.STS` gets temporary credentials from Aliyun-style STS AssumeRole whose RAM policy then holds them
 * to one workspace's prefix, over OSS V4 and AWS SigV4 alike. No Aliyun is reachable from CI; the
 * verifiers are pinned to Aliyun's published vectors in test/unit (oss-signature, aliyun-rpc-signature).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import OSS from 'ali-oss';
import { rpcSignature } from '../../src/storage/local/aliyun-sts.ts';
import { BUCKET, ROOT_CREDENTIALS, startTestStorage, type TestStorage } from '../helpers/storage.ts';

const REGION = 'cn-hangzhou';
const ROLE_ARN = 'acs:ram::1234567890123456:role/skyvault-devices';

/** Exactly the RAM policy the `ali` provider sends for a device of workspace ws1 (put, get, list). */
function ramPolicy(prefix: string) {
  return {
    Version: '1',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['oss:AbortMultipartUpload', 'oss:GetObject', 'oss:ListParts', 'oss:PutObject'],
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

interface Keys {
  accessKeyId: string;
  accessKeySecret: string;
  stsToken?: string | undefined;
}

const rootKeys: Keys = {
  accessKeyId: ROOT_CREDENTIALS.accessKey,
  accessKeySecret: ROOT_CREDENTIALS.secretKey,
};

/** An ali-oss client as the `ali` provider makes one for a non-Aliyun endpoint (path-style, V4). */
function ossClient(endpoint: string, keys: Keys, extra: Record<string, unknown> = {}): OSS {
  return new OSS({
    region: `oss-${REGION}`,
    endpoint,
    bucket: BUCKET,
    accessKeyId: keys.accessKeyId,
    accessKeySecret: keys.accessKeySecret,
    authorizationV4: true,
    timeout: 30_000,
    ...(keys.stsToken
      ? {
          stsToken: keys.stsToken,
          // Else it warns that the token cannot be refreshed; a test's token outlives the test.
          refreshSTSTokenInterval: 3_600_000,
          refreshSTSToken: async () => ({
            accessKeyId: keys.accessKeyId,
            accessKeySecret: keys.accessKeySecret,
            stsToken: keys.stsToken!,
          }),
        }
      : {}),
    // ali-oss's types leave it out: the bucket in the path.
    ...({ sldEnable: true, ...extra } as object),
  });
}

interface OssFailure {
  status: number;
  code: string | undefined;
  message: string;
  requestId: string | undefined;
}

/** Awaits an ali-oss rejection: its status, code (from the XML or JSON error) and request id. */
async function ossError(promise: Promise<unknown>): Promise<OssFailure> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { status?: number; code?: string; requestId?: string };
    return { status: e.status ?? 0, code: e.code, message: e.message, requestId: e.requestId };
  }
  assert.fail('the request succeeded');
}

async function streamBytes(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

/**
 * A raw Aliyun STS call, signed with the store's own RPC signer (pinned by aliyun-rpc-signature.test.ts),
 * for what ali-oss's STS client cannot send (an old Timestamp, a reused nonce, a SecurityToken).
 */
async function rawAssumeRole(
  endpoint: string,
  overrides: Record<string, string | undefined> = {},
  secret = ROOT_CREDENTIALS.secretKey,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const params: Record<string, string> = {
    Action: 'AssumeRole',
    Version: '2015-04-01',
    Format: 'JSON',
    AccessKeyId: ROOT_CREDENTIALS.accessKey,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: randomUUID(),
    Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    RoleArn: ROLE_ARN,
    RoleSessionName: 'raw-session',
    DurationSeconds: '900',
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete params[name];
    else params[name] = value;
  }
  if (!('Signature' in overrides)) params.Signature = rpcSignature('POST', Object.entries(params), secret);
  const response = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as Record<string, unknown>,
  };
}

describe('embedded store, Aliyun dialect: OSS V4 object operations with the real ali-oss client', () => {
  let storage: TestStorage;
  let root: OSS;
  before(async () => {
    storage = await startTestStorage({ region: REGION });
    // An IP endpoint: ali-oss then rewrites Host to skyvault.oss-cn-hangzhou.aliyuncs.com (unsigned).
    root = ossClient(storage.endpoint, rootKeys);
  });
  after(async () => {
    await storage.close();
  });

  it('puts a Buffer with its Content-MD5, heads and gets it; a wrong Content-MD5 is BadDigest', async () => {
    const body = randomBytes(10_000);
    const put = await root.put('anywhere/a.bin', body);
    assert.equal(put.res.status, 200);
    assert.equal((put.res.headers as Record<string, string>).etag, `"${md5(body)}"`);
    const head = await root.head('anywhere/a.bin');
    assert.equal((head.res.headers as Record<string, string>)['content-length'], '10000');
    const got = await root.get('anywhere/a.bin');
    assert.equal(md5(got.content as Buffer), md5(body));

    const wrong = await ossError(
      root.put('anywhere/b.bin', body, {
        headers: { 'Content-MD5': createHash('md5').update('other').digest('base64') },
      }),
    );
    assert.equal(wrong.status, 400);
    assert.equal(wrong.code, 'BadDigest');
    assert.equal(storage.provider.store.head('anywhere/b.bin'), undefined, 'nothing stored');
  });

  it('puts a stream in chunked transfer encoding, without Content-Length (putStream)', async () => {
    const parts = [randomBytes(70_000), randomBytes(3), randomBytes(200_000)];
    const put = await root.putStream('anywhere/stream.bin', Readable.from(parts));
    assert.equal(put.res.status, 200);
    const all = Buffer.concat(parts);
    const stored = storage.provider.store.head('anywhere/stream.bin');
    assert.equal(stored?.size, all.length);
    assert.equal(stored?.etag, `"${md5(all)}"`);
  });

  it('gets a byte range (getStream with Range): 206 and exactly those bytes', async () => {
    const body = randomBytes(5000);
    await storage.provider.put('anywhere/ranged.bin', body);
    const ranged = await root.getStream('anywhere/ranged.bin', { headers: { Range: 'bytes=100-199' } });
    assert.equal(ranged.res.status, 206);
    assert.equal((ranged.res.headers as Record<string, string>)['content-range'], 'bytes 100-199/5000');
    assert.deepEqual(await streamBytes(ranged.stream as AsyncIterable<Buffer>), body.subarray(100, 200));
  });

  it('deletes (204), a missing key too', async () => {
    await storage.provider.put('anywhere/gone.txt', Buffer.from('x'));
    const deleted = await root.delete('anywhere/gone.txt');
    assert.equal(deleted.res.status, 204);
    assert.equal(storage.provider.store.head('anywhere/gone.txt'), undefined);
    const again = await root.delete('anywhere/gone.txt');
    assert.equal(again.res.status, 204);
  });

  it('lists with listV2: prefix, max-keys, continuation-token, start-after', async () => {
    const keys = ['list/a', 'list/b', 'list/c', 'list/d', 'list/e'];
    for (const key of keys) await storage.provider.put(key, Buffer.from(key));
    await storage.provider.put('listing-not/x', Buffer.from('x'));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await root.listV2({
        prefix: 'list/',
        'max-keys': 2,
        ...(token ? { 'continuation-token': token } : {}),
      });
      pages += 1;
      assert.equal(page.keyCount, page.objects.length, 'KeyCount');
      seen.push(...page.objects.map((o) => o.name));
      token = page.isTruncated ? (page.nextContinuationToken ?? undefined) : undefined;
      if (page.isTruncated) assert.ok(token, 'a truncated page has a NextContinuationToken');
    } while (token);
    assert.deepEqual(seen, keys, 'every key of the prefix, in order, once');
    assert.equal(pages, 3);
    const after = await root.listV2({ prefix: 'list/', 'start-after': 'list/c' });
    assert.deepEqual(
      after.objects.map((o) => o.name),
      ['list/d', 'list/e'],
    );
    assert.equal(after.isTruncated, false);
    assert.equal(after.objects[0]?.size, 6);
  });

  it("uploads multipart with ali-oss's 1 MiB default parts (OSS's 100 KiB minimum), complete XML and all", async () => {
    const body = randomBytes(2 * 1024 * 1024 + 512 * 1024 + 7);
    const done = await root.multipartUpload('anywhere/big.mp4', body, { parallel: 2 });
    assert.equal(done.res.status, 200);
    assert.match(done.etag, /^"[0-9a-f]{32}-3"$/, 'three parts, ETag in the header as OSS sends it');
    assert.equal(storage.provider.store.head('anywhere/big.mp4')?.size, body.length);
    const got = await root.get('anywhere/big.mp4');
    assert.equal(md5(got.content as Buffer), md5(body));
  });

  it('serves signatureUrlV4 GET URLs to plain fetch, until they expire', async () => {
    const body = randomBytes(300);
    await storage.provider.put('anywhere/linked.bin', body);
    const url = await root.signatureUrlV4(
      'GET',
      60,
      { headers: {}, queries: { 'response-content-disposition': 'attachment; filename="linked.bin"' } },
      'anywhere/linked.bin',
    );
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-disposition'), 'attachment; filename="linked.bin"');
    assert.deepEqual(Buffer.from(await ok.arrayBuffer()), body);

    const short = await root.signatureUrlV4('GET', 1, { headers: {}, queries: {} }, 'anywhere/linked.bin');
    storage.clock.offsetMs = 5000;
    try {
      const expired = await fetch(short);
      assert.equal(expired.status, 403);
      const text = await expired.text();
      assert.match(text, /<Code>AccessDenied<\/Code>/);
      assert.match(text, /expired/);
    } finally {
      storage.clock.offsetMs = 0;
    }
  });

  it('names failures as ali-oss reads them: NoSuchKey for a HEAD (x-oss-request-id), wrong secret, V1', async () => {
    const missing = await ossError(root.head('anywhere/missing.bin'));
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'NoSuchKey');
    assert.match(missing.requestId ?? '', /^[0-9A-F]{16}$/, 'the request id, from x-oss-request-id');

    const wrong = ossClient(storage.endpoint, { ...rootKeys, accessKeySecret: 'not-the-secret' });
    const refused = await ossError(wrong.get('anywhere/a.bin'));
    assert.equal(refused.status, 403);
    assert.equal(refused.code, 'SignatureDoesNotMatch');

    const v1 = ossClient(storage.endpoint, rootKeys, { authorizationV4: false });
    const old = await ossError(v1.get('anywhere/a.bin'));
    assert.equal(old.status, 400);
    assert.equal(old.code, 'AuthorizationHeaderMalformed');
    assert.match(old.message, /Signature Version 1 is not supported/);
  });

  describe('Aliyun STS AssumeRole with a RAM policy for ws1/media', () => {
    let credentials: OSS.Credentials;
    let session: OSS;
    let sessionKeys: Keys;
    before(async () => {
      const sts = new OSS.STS({
        ...rootKeys,
        endpoint: storage.endpoint,
      } as OSS.STSOptions & { endpoint: string });
      credentials = (await sts.assumeRole(ROLE_ARN, ramPolicy('ws1/media'), 900, 'skyvault-test'))
        .credentials;
      sessionKeys = {
        accessKeyId: credentials.AccessKeyId,
        accessKeySecret: credentials.AccessKeySecret,
        stsToken: credentials.SecurityToken,
      };
      // localhost, not the IP: Host is then left as it is (the path still names the bucket).
      session = ossClient(storage.endpoint.replace('127.0.0.1', 'localhost'), sessionKeys);
      await storage.provider.put('ws2/media/secret.jpg', Buffer.from('secret'));
    });

    it("issues STS credentials in Aliyun's JSON, expiring after DurationSeconds", async () => {
      assert.match(credentials.AccessKeyId, /^STS\.SV[0-9A-F]{24}$/);
      assert.match(credentials.SecurityToken, /^sv2\./);
      const lifetime = Date.parse(credentials.Expiration) - Date.now();
      assert.ok(lifetime > 890_000 && lifetime <= 900_000, `lifetime ${lifetime} ms`);

      const raw = await rawAssumeRole(storage.endpoint, { RoleSessionName: 'alice' });
      assert.equal(raw.status, 200);
      assert.match(raw.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(Object.keys(raw.json).sort(), ['AssumedRoleUser', 'Credentials', 'RequestId']);
      assert.deepEqual(Object.keys(raw.json.Credentials as object).sort(), [
        'AccessKeyId',
        'AccessKeySecret',
        'Expiration',
        'SecurityToken',
      ]);
      const user = raw.json.AssumedRoleUser as { Arn: string; AssumedRoleId: string };
      assert.equal(user.Arn, `${ROLE_ARN}/alice`);
      assert.match(user.AssumedRoleId, /^\d+:alice$/);
      assert.match(
        (raw.json.Credentials as { Expiration: string }).Expiration,
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
      );
    });

    it('lets the session put, get and upload multipart in ws1/media', async () => {
      const body = randomBytes(1000);
      await session.put('ws1/media/a.jpg', body);
      assert.equal(md5((await session.get('ws1/media/a.jpg')).content as Buffer), md5(body));
      const big = randomBytes(300 * 1024);
      const done = await session.multipartUpload('ws1/media/big.mp4', big, { partSize: 100 * 1024 });
      assert.match(done.etag, /-3"$/);
      assert.equal(storage.provider.store.head('ws1/media/big.mp4')?.size, big.length);
    });

    it('refuses the session outside ws1/media: AccessDenied (403)', async () => {
      const body = randomBytes(1000);
      const put = await ossError(session.put('ws2/media/a.jpg', body));
      assert.equal(put.status, 403);
      assert.equal(put.code, 'AccessDenied');
      assert.equal(storage.provider.store.head('ws2/media/a.jpg'), undefined);
      const get = await ossError(session.get('ws2/media/secret.jpg'));
      assert.equal(get.code, 'AccessDenied');
      const sibling = await ossError(session.put('ws1/thumbnails/a.jpg', body));
      assert.equal(sibling.code, 'AccessDenied');
      const multipart = await ossError(
        session.multipartUpload('ws2/media/big.mp4', randomBytes(300 * 1024), { partSize: 100 * 1024 }),
      );
      assert.equal(multipart.code, 'AccessDenied');
      const remove = await ossError(session.delete('ws1/media/a.jpg'));
      assert.equal(remove.code, 'AccessDenied', 'the policy names no oss:DeleteObject');
    });

    it('lets the session list under ws1/media/ only', async () => {
      const listed = await session.listV2({ prefix: 'ws1/media/' });
      assert.ok(
        listed.objects.some((o) => o.name === 'ws1/media/a.jpg'),
        'the listing has the object',
      );
      for (const prefix of ['ws2/media/', 'ws1/', undefined]) {
        const denied = await ossError(session.listV2(prefix === undefined ? {} : { prefix }));
        assert.equal(denied.status, 403, `prefix ${prefix}`);
        assert.equal(denied.code, 'AccessDenied', `prefix ${prefix}`);
      }
    });

    it("serves the session's presigned URLs in its prefix only", async () => {
      const inside = await session.signatureUrlV4('GET', 60, { headers: {}, queries: {} }, 'ws1/media/a.jpg');
      assert.match(inside, /x-oss-security-token=/);
      assert.equal((await fetch(inside)).status, 200);
      const outside = await session.signatureUrlV4(
        'GET',
        60,
        { headers: {}, queries: {} },
        'ws2/media/secret.jpg',
      );
      const denied = await fetch(outside);
      assert.equal(denied.status, 403);
      assert.match(await denied.text(), /<Code>AccessDenied<\/Code>/);
    });

    it('holds the same credentials to the same policy over AWS SigV4', async () => {
      const s3 = new S3Client({
        endpoint: storage.endpoint,
        region: REGION,
        forcePathStyle: true,
        credentials: {
          accessKeyId: credentials.AccessKeyId,
          secretAccessKey: credentials.AccessKeySecret,
          sessionToken: credentials.SecurityToken,
        },
        maxAttempts: 1,
      });
      try {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/via-s3.txt', Body: 'x' }));
        await assert.rejects(
          s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws2/media/secret.jpg' })),
          (error: Error) => error.name === 'AccessDenied',
        );
      } finally {
        s3.destroy();
      }
    });

    it('answers refusals with the codes Aliyun STS uses', async () => {
      const sts = (keys: Keys) =>
        new OSS.STS({ ...keys, endpoint: storage.endpoint } as OSS.STSOptions & { endpoint: string });
      const assume = (policy: object | undefined, seconds = 900, name = 'skyvault-test', arn = ROLE_ARN) =>
        ossError(sts(rootKeys).assumeRole(arn, policy, seconds, name));

      const wrong = await ossError(
        sts({ ...rootKeys, accessKeySecret: 'not-the-secret' }).assumeRole(ROLE_ARN, undefined, 900, 'x-y'),
      );
      assert.equal(wrong.code, 'SignatureDoesNotMatch');
      assert.equal(wrong.status, 400);
      const unknown = await ossError(
        sts({ ...rootKeys, accessKeyId: 'LTAIUNKNOWN' }).assumeRole(ROLE_ARN, undefined, 900, 'x-y'),
      );
      assert.equal(unknown.code, 'InvalidAccessKeyId.NotFound');
      assert.equal(unknown.status, 404);
      for (const seconds of [899, 43_201])
        assert.equal(
          (await assume(undefined, seconds)).code,
          'InvalidParameter.DurationSeconds',
          `${seconds} s`,
        );
      const grammar = await assume({
        Version: '1',
        Statement: [{ Effect: 'Allow', NotAction: 'oss:DeleteObject', Resource: '*' }],
      });
      assert.equal(grammar.code, 'InvalidParameter.PolicyGrammar');
      assert.match(grammar.message, /Statement\[0\]\.NotAction/);
      const statements = Array.from({ length: 30 }, (_, i) => ramPolicy(`ws${i}/media`).Statement[0]);
      const big = await assume({ Version: '1', Statement: statements });
      assert.equal(big.code, 'InvalidParameter.PolicySize');
      assert.equal((await assume(undefined, 900, 'x')).code, 'InvalidParameter.RoleSessionName');
      assert.equal(
        (await assume(undefined, 900, 'skyvault-test', 'acs:ram::123:user/alice')).code,
        'InvalidParameter.RoleArn',
      );
    });

    it('checks Timestamp, SignatureNonce and the signature parameters', async () => {
      const old = new Date(Date.now() - 16 * 60_000).toISOString();
      const expired = await rawAssumeRole(storage.endpoint, { Timestamp: old });
      assert.equal(expired.status, 400);
      assert.equal(expired.json.Code, 'InvalidTimeStamp.Expired');
      for (const key of ['RequestId', 'HostId', 'Code', 'Message', 'Recommend'])
        assert.ok(key in expired.json, `errors carry ${key}`);

      const nonce = randomUUID();
      assert.equal((await rawAssumeRole(storage.endpoint, { SignatureNonce: nonce })).status, 200);
      const replay = await rawAssumeRole(storage.endpoint, { SignatureNonce: nonce });
      assert.equal(replay.json.Code, 'SignatureNonceUsed');

      assert.equal(
        (await rawAssumeRole(storage.endpoint, { Signature: undefined })).json.Code,
        'MissingSignature',
      );
      assert.equal(
        (await rawAssumeRole(storage.endpoint, { SignatureMethod: 'HMAC-SHA256' })).json.Code,
        'IncompleteSignature',
      );
      assert.equal(
        (await rawAssumeRole(storage.endpoint, { RoleArn: undefined })).json.Code,
        'MissingRoleArn',
      );
      const chained = await rawAssumeRole(storage.endpoint, { SecurityToken: credentials.SecurityToken });
      assert.equal(chained.status, 403);
      assert.equal(chained.json.Code, 'NoPermission');
      assert.equal(
        (await rawAssumeRole(storage.endpoint, { Action: 'GetCallerIdentity' })).json.Code,
        'InvalidAction.NotFound',
      );
    });
  });
});
