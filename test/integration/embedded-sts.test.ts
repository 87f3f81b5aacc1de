/**
 * The embedded store answers STS AssumeRole as MinIO does (issue 14): the real AWS SDK STSClient gets
 * temporary credentials from it with the root credentials and a session policy, and the real S3 clients
 * (AWS SDK, lib-storage, minio-js) may then do exactly what that policy allows.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  type Credentials,
  MalformedPolicyDocumentException,
  STSClient,
} from '@aws-sdk/client-sts';
import { Upload } from '@aws-sdk/lib-storage';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { XMLParser } from 'fast-xml-parser';
import * as Minio from 'minio';
import { AssumeRoleProvider } from 'minio/dist/esm/AssumeRoleProvider.mjs';
import { createLogger } from '../../src/shared/logger.ts';
import { LocalStorageProvider } from '../../src/storage/local/local.provider.ts';
import { Sha256 } from '../../src/storage/local/sigv4.ts';
import { tempDir } from '../helpers/test-app.ts';

const BUCKET = 'skyvault';
const REGION = 'us-east-1';
const ROOT = { accessKey: 'STSTESTROOTKEY', secretKey: 'sts-test-root-secret-0123456789' };
const SECRET = 'sts-test-storage-secret';

/** The session policy a Skyvault device credential carries: its workspace's media, nothing else. */
const WS1_MEDIA_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:GetObject'],
      Resource: [`arn:aws:s3:::${BUCKET}/ws1/media/*`],
    },
    {
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: [`arn:aws:s3:::${BUCKET}`],
      Condition: { StringLike: { 's3:prefix': ['ws1/media/*'] } },
    },
  ],
};

const md5 = (data: Buffer | Uint8Array) => createHash('md5').update(data).digest('hex');

interface Store {
  provider: LocalStorageProvider;
  endpoint: string;
  clock: { offsetMs: number };
  close(): Promise<void>;
}

async function startStore(rootCredentials: typeof ROOT | null = ROOT): Promise<Store> {
  const dir = tempDir('skyvault-sts-');
  const clock = { offsetMs: 0 };
  const provider = new LocalStorageProvider({
    root: path.join(dir, 'objects'),
    bucket: BUCKET,
    region: REGION,
    secret: SECRET,
    rootCredentials: rootCredentials ?? undefined,
    host: '127.0.0.1',
    port: 0,
    publicEndpoint: undefined,
    defaultPublicHostname: '127.0.0.1',
    tls: undefined,
    logger: createLogger('silent'),
    now: () => Date.now() + clock.offsetMs,
  });
  await provider.listen();
  return {
    provider,
    endpoint: provider.endpointFor('127.0.0.1'),
    clock,
    async close() {
      await provider.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type KeyPair = { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined };

const rootKeys: KeyPair = { accessKeyId: ROOT.accessKey, secretAccessKey: ROOT.secretKey };

function temporaryKeys(credentials: Credentials): KeyPair {
  return {
    accessKeyId: credentials.AccessKeyId!,
    secretAccessKey: credentials.SecretAccessKey!,
    sessionToken: credentials.SessionToken!,
  };
}

function s3Client(
  endpoint: string,
  keys: KeyPair,
  extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {},
) {
  return new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: keys,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...extra,
  });
}

async function assumeRole(
  endpoint: string,
  input: Partial<AssumeRoleCommandInput>,
  keys: KeyPair = rootKeys,
): Promise<Credentials> {
  const sts = new STSClient({ endpoint, region: REGION, credentials: keys, maxAttempts: 1 });
  try {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: 'arn:xxx:xxx:xxx:xxxx',
        RoleSessionName: 'skyvault',
        ...input,
      } as AssumeRoleCommandInput),
    );
    return out.Credentials!;
  } finally {
    sts.destroy();
  }
}

/** Awaits a rejection and returns the SDK error, for checks on its name and status. */
async function sdkError(
  promise: Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error, String(error));
    return error;
  }
  assert.fail('the request succeeded');
}

/** A raw STS request signed with @smithy/signature-v4 (service sts), for what the SDK cannot send. */
async function rawSts(
  endpoint: string,
  body: string,
  options: { keys?: KeyPair; sendBody?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    credentials: options.keys ?? rootKeys,
    region: REGION,
    service: 'sts',
    sha256: Sha256,
  });
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: {
      host: url.host,
      'content-type': 'application/x-www-form-urlencoded',
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      ...options.headers,
    },
    body,
  });
  const signed = await signer.sign(request);
  const response = await fetch(`${endpoint}/`, {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host')),
    body: options.sendBody ?? body,
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const xml = new XMLParser({ ignoreAttributes: false, parseTagValue: false });

describe('embedded store STS AssumeRole (MinIO-compatible)', () => {
  let store: Store;
  let session: Credentials;
  let s3: S3Client;
  before(async () => {
    store = await startStore();
    session = await assumeRole(store.endpoint, {
      DurationSeconds: 900,
      Policy: JSON.stringify(WS1_MEDIA_POLICY),
    });
    s3 = s3Client(store.endpoint, temporaryKeys(session));
  });
  after(async () => {
    s3.destroy();
    await store.close();
  });

  it('issues temporary credentials the AWS SDK parses, expiring after DurationSeconds', () => {
    assert.match(session.AccessKeyId!, /^SV[0-9A-F]{24}$/);
    assert.equal(session.SecretAccessKey!.length, 40);
    assert.match(session.SessionToken!, /^sv2\.[\w-]+\.[\w-]+$/);
    assert.ok(session.Expiration instanceof Date, 'Expiration parsed to a Date');
    const lifetime = session.Expiration.getTime() - Date.now();
    assert.ok(lifetime > 895_000 && lifetime <= 900_000, `lifetime ${lifetime} ms`);
    assert.ok(session.SessionToken!.length < 1000, 'the token stays small');
  });

  it('answers the exact AssumeRoleResponse XML, and errors as STS ErrorResponse', async () => {
    const ok = await rawSts(store.endpoint, 'Action=AssumeRole&Version=2011-06-15');
    assert.equal(ok.status, 200);
    assert.ok(ok.headers.get('date'), 'a Date header, for the SDK clock-skew correction');
    const doc = xml.parse(ok.text);
    const response = doc.AssumeRoleResponse;
    assert.equal(response['@_xmlns'], 'https://sts.amazonaws.com/doc/2011-06-15/');
    const creds = response.AssumeRoleResult.Credentials;
    assert.deepEqual(Object.keys(creds).sort(), [
      'AccessKeyId',
      'Expiration',
      'SecretAccessKey',
      'SessionToken',
    ]);
    assert.match(creds.Expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const lifetime = Date.parse(creds.Expiration) - Date.now();
    assert.ok(lifetime > 3590_000 && lifetime <= 3600_000, 'DurationSeconds defaults to 3600');
    assert.equal(response.ResponseMetadata.RequestId, ok.headers.get('x-amz-request-id'));

    const bad = await rawSts(store.endpoint, 'Action=AssumeRole&Version=2011-06-15', {
      keys: { ...rootKeys, secretAccessKey: 'wrong' },
    });
    assert.equal(bad.status, 403);
    assert.ok(bad.headers.get('date'), 'errors carry a Date header too');
    const error = xml.parse(bad.text).ErrorResponse;
    assert.equal(error['@_xmlns'], 'https://sts.amazonaws.com/doc/2011-06-15/');
    assert.equal(error.Error.Type, 'Sender');
    assert.equal(error.Error.Code, 'AccessDenied');
    assert.match(error.Error.Message, /signature/);
    assert.equal(error.RequestId, bad.headers.get('x-amz-request-id'));
  });

  it('checks Version (MissingParameter) and Action (InvalidParameterValue) as MinIO does', async () => {
    const code = async (body: string) =>
      xml.parse((await rawSts(store.endpoint, body)).text).ErrorResponse?.Error?.Code;
    assert.equal(await code('Action=AssumeRole&Version=2011-06-16'), 'MissingParameter');
    assert.equal(await code('Action=AssumeRole'), 'MissingParameter');
    assert.equal(await code('Action=GetCallerIdentity&Version=2011-06-15'), 'InvalidParameterValue');
    assert.equal(
      await code(
        'Action=AssumeRole&Version=2011-06-15&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2Fx',
      ),
      'InvalidParameterValue',
      'managed policies would restrict the session: refused, not ignored',
    );
    assert.equal(
      await code('Action=AssumeRole&Version=2011-06-15&DurationSeconds=abc'),
      'InvalidParameterValue',
    );
    assert.equal(
      await code('Action=AssumeRole&Version=2011-06-15&DurationSeconds=43201'),
      'InvalidParameterValue',
    );
  });

  it('verifies the body against the signature and caps its size', async () => {
    const tampered = await rawSts(
      store.endpoint,
      'Action=AssumeRole&Version=2011-06-15&DurationSeconds=900',
      {
        sendBody: 'Action=AssumeRole&Version=2011-06-15&DurationSeconds=901',
      },
    );
    assert.equal(tampered.status, 403);
    assert.equal(xml.parse(tampered.text).ErrorResponse.Error.Code, 'AccessDenied');

    // Signed with its real hash but without x-amz-content-sha256 (as boto3 does): the body hash is computed.
    const url = new URL(store.endpoint);
    const body = 'Action=AssumeRole&Version=2011-06-15';
    const signer = new SignatureV4({ credentials: rootKeys, region: REGION, service: 'sts', sha256: Sha256 });
    const signed = await signer.sign(
      new HttpRequest({
        method: 'POST',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      }),
    );
    const unhashed = await fetch(`${store.endpoint}/`, {
      method: 'POST',
      headers: Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host')),
      body,
    });
    assert.equal(unhashed.status, 200, await unhashed.clone().text());

    const huge = `Action=AssumeRole&Version=2011-06-15&RoleSessionName=${'x'.repeat(70 * 1024)}`;
    const tooLarge = await rawSts(store.endpoint, huge);
    assert.equal(tooLarge.status, 400);
    assert.equal(xml.parse(tooLarge.text).ErrorResponse.Error.Code, 'InvalidParameterValue');
  });

  it('lets the session put and get under ws1/media, and nowhere else', async () => {
    const body = randomBytes(1000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/a.jpg', Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/a.jpg' }));
    assert.equal(md5(await got.Body!.transformToByteArray()), md5(body));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/a.jpg' }));
    assert.equal(head.ContentLength, 1000);

    const outside = await sdkError(
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws2/media/a.jpg', Body: body })),
    );
    assert.equal(outside.name, 'AccessDenied');
    assert.equal(outside.$metadata?.httpStatusCode, 403);
    assert.equal(store.provider.store.head('ws2/media/a.jpg'), undefined);
    const sibling = await sdkError(
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/thumbnails/a.jpg', Body: body })),
    );
    assert.equal(sibling.name, 'AccessDenied');

    await store.provider.put('ws2/media/secret.jpg', Buffer.from('secret'));
    const read = await sdkError(
      s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws2/media/secret.jpg' })),
    );
    assert.equal(read.name, 'AccessDenied');
  });

  it('lets the session list with a prefix under ws1/media/ only', async () => {
    await store.provider.put('ws1/media/listed.jpg', Buffer.from('x'));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'ws1/media/' }));
    assert.ok(
      listed.Contents?.some((o) => o.Key === 'ws1/media/listed.jpg'),
      'the listing has the object',
    );
    for (const Prefix of ['ws2/', 'ws1/', undefined]) {
      const denied = await sdkError(s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix })));
      assert.equal(denied.name, 'AccessDenied', `prefix ${Prefix}`);
    }
    // HeadBucket is s3:ListBucket without s3:prefix: the policy's condition does not hold.
    const head = await sdkError(s3.send(new HeadBucketCommand({ Bucket: BUCKET })));
    assert.equal(head.$metadata?.httpStatusCode, 403);
  });

  it('refuses what the policy does not name: delete', async () => {
    await store.provider.put('ws1/media/keep.jpg', Buffer.from('keep'));
    const denied = await sdkError(
      s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/keep.jpg' })),
    );
    assert.equal(denied.name, 'AccessDenied');
    assert.ok(store.provider.store.head('ws1/media/keep.jpg'), 'the object is still there');
  });

  it('lets the session upload a multipart object under ws1/media (lib-storage)', async () => {
    const body = randomBytes(6 * 1024 * 1024 + 123);
    const upload = new Upload({
      client: s3,
      params: { Bucket: BUCKET, Key: 'ws1/media/big.mp4', Body: body },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    });
    const done = await upload.done();
    assert.match(done.ETag ?? '', /-2"$/);
    const info = store.provider.store.head('ws1/media/big.mp4');
    assert.equal(info?.size, body.length);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/big.mp4' }));
    assert.equal(md5(await got.Body!.transformToByteArray()), md5(body));

    const outside = new Upload({
      client: s3,
      params: { Bucket: BUCKET, Key: 'ws2/media/big.mp4', Body: body },
      partSize: 5 * 1024 * 1024,
    });
    const denied = await sdkError(outside.done());
    assert.equal(denied.name, 'AccessDenied');
  });

  it('refuses the credentials once expired (by the store clock)', async () => {
    const short = await assumeRole(store.endpoint, {
      DurationSeconds: 900,
      Policy: JSON.stringify(WS1_MEDIA_POLICY),
    });
    // Moved relative to the expiry the store announced, a minute to either side: the test's own time
    // (a loaded machine can take seconds between two lines) never decides it.
    const expiresAt = short.Expiration!.getTime();
    assert.ok(Math.abs(expiresAt - (Date.now() + 900_000)) < 60_000, `expires at ${short.Expiration}`);
    try {
      store.clock.offsetMs = expiresAt - Date.now() - 60_000;
      const early = s3Client(store.endpoint, temporaryKeys(short), {
        systemClockOffset: store.clock.offsetMs,
      });
      await early.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/a.jpg' }));
      early.destroy();

      store.clock.offsetMs = expiresAt - Date.now() + 60_000;
      // The client's clock follows the store's, so that the request is not refused as skewed first.
      const late = s3Client(store.endpoint, temporaryKeys(short), {
        systemClockOffset: store.clock.offsetMs,
      });
      const expired = await sdkError(
        late.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/a.jpg' })),
      );
      late.destroy();
      assert.equal(expired.name, 'ExpiredToken');
    } finally {
      store.clock.offsetMs = 0;
    }
  });

  describe('AssumeRole refusals, as the AWS SDK names them', () => {
    it('a wrong root secret or an unknown key: AccessDenied', async () => {
      const wrong = await sdkError(
        assumeRole(store.endpoint, {}, { ...rootKeys, secretAccessKey: 'not-the-secret' }),
      );
      assert.equal(wrong.name, 'AccessDenied');
      assert.equal(wrong.$metadata?.httpStatusCode, 403);
      const unknown = await sdkError(
        assumeRole(store.endpoint, {}, { ...rootKeys, accessKeyId: 'SOMEONEELSE' }),
      );
      assert.equal(unknown.name, 'AccessDenied');
    });

    it('temporary credentials asking for more: AccessDenied', async () => {
      const denied = await sdkError(
        assumeRole(store.endpoint, { DurationSeconds: 900 }, temporaryKeys(session)),
      );
      assert.equal(denied.name, 'AccessDenied');
      // Even the root keys are refused when the request carries a session token (MinIO's checkAssumeRoleAuth).
      const withToken = await sdkError(
        assumeRole(
          store.endpoint,
          { DurationSeconds: 900 },
          { ...rootKeys, sessionToken: session.SessionToken },
        ),
      );
      assert.equal(withToken.name, 'AccessDenied');
      assert.match(withToken.message, /Temporary credentials/);
    });

    it('DurationSeconds out of 900..43200: InvalidParameterValue', async () => {
      for (const DurationSeconds of [100, 899, 43_201]) {
        const error = await sdkError(assumeRole(store.endpoint, { DurationSeconds }));
        assert.equal(error.name, 'InvalidParameterValue', `DurationSeconds ${DurationSeconds}`);
        assert.equal(error.$metadata?.httpStatusCode, 400);
      }
      const longest = await assumeRole(store.endpoint, { DurationSeconds: 43_200 });
      assert.ok(longest.Expiration!.getTime() - Date.now() > 43_190_000, 'DurationSeconds 43200 honoured');
    });

    it('a malformed policy: MalformedPolicyDocument, naming the element', async () => {
      const notAction = await sdkError(
        assumeRole(store.endpoint, {
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', NotAction: 's3:DeleteObject', Resource: '*' }],
          }),
        }),
      );
      assert.ok(notAction instanceof MalformedPolicyDocumentException, notAction.name);
      assert.equal(notAction.name, 'MalformedPolicyDocumentException');
      assert.match(notAction.message, /Statement\[0\]\.NotAction/);

      for (const Policy of [
        '{"Version":"2012-10-17","Statement":[',
        JSON.stringify({ Statement: WS1_MEDIA_POLICY.Statement }),
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: 's3:GetObject',
              Resource: '*',
              Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
            },
          ],
        }),
      ]) {
        const error = await sdkError(assumeRole(store.endpoint, { Policy }));
        assert.equal(error.name, 'MalformedPolicyDocumentException', Policy);
      }
    });

    it('a policy over 2048 bytes once minified: InvalidParameterValue (MinIO)', async () => {
      const statement = (i: number) => ({
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::${BUCKET}/ws${i}/media/*`,
      });
      const big = { Version: '2012-10-17', Statement: Array.from({ length: 40 }, (_, i) => statement(i)) };
      assert.ok(JSON.stringify(big).length > 2048, 'the big policy is over the limit');
      const error = await sdkError(assumeRole(store.endpoint, { Policy: JSON.stringify(big) }));
      assert.equal(error.name, 'InvalidParameterValue');
      assert.match(error.message, /2048/);

      // Whitespace does not count: the limit applies to the minified document.
      const fits = { ...big, Statement: big.Statement.slice(0, 20) };
      assert.ok(JSON.stringify(fits).length < 2048, 'the smaller policy fits minified');
      const spaced = JSON.stringify(fits, null, 8);
      assert.ok(spaced.length > 2048, 'but not with its whitespace');
      await assumeRole(store.endpoint, { Policy: spaced });
    });
  });

  it('gives root credentials every right in the bucket, over plain S3', async () => {
    const root = s3Client(store.endpoint, rootKeys);
    try {
      await root.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'anywhere/at/all.txt', Body: 'root' }));
      const got = await root.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'anywhere/at/all.txt' }));
      assert.equal(await got.Body!.transformToString(), 'root');
      const listed = await root.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      assert.ok((listed.Contents?.length ?? 0) >= 2, 'root lists the whole bucket');
      await root.send(new HeadBucketCommand({ Bucket: BUCKET }));
      const buckets = await root.send(new ListBucketsCommand({}));
      assert.deepEqual(
        buckets.Buckets?.map((b) => b.Name),
        [BUCKET],
      );
      await root.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'anywhere/at/all.txt' }));
      assert.equal(store.provider.store.head('anywhere/at/all.txt'), undefined);
    } finally {
      root.destroy();
    }
    const wrong = s3Client(store.endpoint, { ...rootKeys, secretAccessKey: 'wrong-secret' });
    const error = await sdkError(
      wrong.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/a.jpg' })),
    );
    wrong.destroy();
    assert.equal(error.name, 'SignatureDoesNotMatch');
  });

  it('gives a session without a policy the root rights (as MinIO does)', async () => {
    const unrestricted = s3Client(store.endpoint, temporaryKeys(await assumeRole(store.endpoint, {})));
    try {
      await unrestricted.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws9/x.txt', Body: 'x' }));
      await unrestricted.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'ws9/x.txt' }));
      await unrestricted.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    } finally {
      unrestricted.destroy();
    }
  });

  it('honours an explicit Deny over a broader Allow', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 's3:*', Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`] },
        {
          Effect: 'Deny',
          Action: ['s3:DeleteObject', 's3:PutObject'],
          Resource: `arn:aws:s3:::${BUCKET}/ws1/media/*`,
        },
      ],
    };
    const client = s3Client(
      store.endpoint,
      temporaryKeys(await assumeRole(store.endpoint, { Policy: JSON.stringify(policy) })),
    );
    try {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws3/ok.txt', Body: 'x' }));
      const denied = await sdkError(
        client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/a.jpg' })),
      );
      assert.equal(denied.name, 'AccessDenied');
      await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/a.jpg' }));
    } finally {
      client.destroy();
    }
  });

  it('voids sessions once their root credentials are no longer configured', async () => {
    // A second instance with the same storage secret but other root keys (a rotated root).
    const rotated = await startStore({ accessKey: 'OTHERROOT', secretKey: 'other-root-secret-0123456789' });
    const client = s3Client(rotated.endpoint, temporaryKeys(session));
    try {
      const error = await sdkError(
        client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/a.jpg' })),
      );
      assert.equal(error.name, 'InvalidToken');
    } finally {
      client.destroy();
      await rotated.close();
    }
  });

  it('refuses AssumeRole when the store has no root credentials', async () => {
    const rootless = await startStore(null);
    try {
      const error = await sdkError(assumeRole(rootless.endpoint, {}));
      assert.equal(error.name, 'AccessDenied');
      const client = s3Client(rootless.endpoint, rootKeys);
      const s3error = await sdkError(client.send(new ListObjectsV2Command({ Bucket: BUCKET })));
      client.destroy();
      assert.equal(s3error.name, 'InvalidAccessKeyId');
    } finally {
      await rootless.close();
    }
  });

  describe('minio-js', () => {
    it('puts and gets with the temporary credentials, and is refused outside the policy', async () => {
      const url = new URL(store.endpoint);
      const keys = temporaryKeys(session);
      const minio = new Minio.Client({
        endPoint: url.hostname,
        port: Number(url.port),
        useSSL: false,
        accessKey: keys.accessKeyId,
        secretKey: keys.secretAccessKey,
        sessionToken: keys.sessionToken,
        region: REGION,
        pathStyle: true,
      });
      const body = randomBytes(2048);
      await minio.putObject(BUCKET, 'ws1/media/minio.bin', body);
      const stream = await minio.getObject(BUCKET, 'ws1/media/minio.bin');
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      assert.equal(md5(Buffer.concat(chunks)), md5(body));
      await assert.rejects(
        minio.putObject(BUCKET, 'ws2/media/minio.bin', body),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, 'AccessDenied');
          return true;
        },
      );
    });

    it('obtains credentials with its AssumeRoleProvider (Host signed without the port)', async () => {
      const provider = new AssumeRoleProvider({
        stsEndpoint: store.endpoint,
        accessKey: ROOT.accessKey,
        secretKey: ROOT.secretKey,
        region: REGION,
        durationSeconds: 900,
        policy: JSON.stringify(WS1_MEDIA_POLICY),
      });
      const credentials = await provider.getCredentials();
      assert.match(credentials.sessionToken ?? '', /^sv2\./);
      const client = s3Client(store.endpoint, {
        accessKeyId: credentials.accessKey,
        secretAccessKey: credentials.secretKey,
        sessionToken: credentials.sessionToken,
      });
      try {
        await client.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/via-minio-sts.txt', Body: 'x' }),
        );
        const denied = await sdkError(
          client.send(
            new PutObjectCommand({ Bucket: BUCKET, Key: 'ws2/media/via-minio-sts.txt', Body: 'x' }),
          ),
        );
        assert.equal(denied.name, 'AccessDenied');
      } finally {
        client.destroy();
      }
    });
  });
});
