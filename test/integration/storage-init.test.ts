/**
 * `skyvault storage init` (src/storage-init.ts, S3Provider.ensureBucket and applyCorsRule) against
 * s3rver, a third-party S3 server that creates buckets, keeps bucket CORS rules and answers browsers'
 * preflights from them. The bucket is created once, the CORS rule is set once and is what a browser's
 * ranged GET needs, a bucket's other rules are kept, and a second run changes nothing. s3rver checks
 * access key ids but not V4 signatures, so a wrong secret is tried on Skyvault's embedded store, which
 * checks them; that store, like community MinIO, keeps no bucket CORS rules and answers CORS itself,
 * which init says. And `serve`
 * on a missing bucket names this command.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type CORSRule,
  CreateBucketCommand,
  GetBucketCorsCommand,
  HeadBucketCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { storage } from '../../src/storage-cli.ts';
import { runCli } from '../helpers/cli.ts';
import { BUCKET, ROOT_CREDENTIALS, startTestStorage } from '../helpers/storage.ts';
import { startupRefusal, tempDir } from '../helpers/test-app.ts';

/** The only keys s3rver knows (it checks the access key id, not the signature). */
const S3RVER_KEYS = { accessKey: 'S3RVER', secretKey: 'S3RVER' };
const ORIGIN = 'http://library.example:8080';
/** The rule docs/storage.md shows, written out here so that a change to it shows up as a failure. */
const EXPECTED_RULE: CORSRule = {
  AllowedOrigins: ['*'],
  AllowedMethods: ['GET', 'HEAD'],
  AllowedHeaders: ['*'],
  ExposeHeaders: [
    'Accept-Ranges',
    'Content-Length',
    'Content-Range',
    'Content-Type',
    'Content-Disposition',
    'ETag',
    'Last-Modified',
    'x-amz-request-id',
  ],
  MaxAgeSeconds: 3600,
};

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
}) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

interface Run {
  code: number;
  out: string;
  err: string;
}

/** This file's own temporary directories: s3rver's, and the data dir the settings need. */
const dirs = { s3rver: tempDir('skyvault-s3rver-'), data: tempDir('skyvault-init-') };

/** `skyvault storage init` in this process, with exactly these settings. */
async function init(env: Record<string, string>, args: string[] = []): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await storage(['init', ...args], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: { SKYVAULT_DATA_DIR: dirs.data, SKYVAULT_LOG_LEVEL: 'warn', ...env },
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** What a browser sends before a ranged GET from a page of another origin. */
function preflight(url: string, method = 'GET'): Promise<Response> {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin: ORIGIN,
      'access-control-request-method': method,
      'access-control-request-headers': 'range',
    },
  });
}

describe('skyvault storage init', () => {
  let server: S3rverInstance;
  let endpoint: string;
  let client: S3Client;
  const minio = (bucket: string, extra: Record<string, string> = {}) => ({
    SKYVAULT_STORAGE: 'minio',
    SKYVAULT_S3_ENDPOINT: endpoint,
    SKYVAULT_S3_ACCESS_KEY: S3RVER_KEYS.accessKey,
    SKYVAULT_S3_SECRET_KEY: S3RVER_KEYS.secretKey,
    SKYVAULT_S3_BUCKET: bucket,
    ...extra,
  });
  const rulesOf = async (bucket: string) =>
    (await client.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules ?? [];

  before(async () => {
    server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: dirs.s3rver,
    });
    endpoint = `http://127.0.0.1:${(await server.run()).port}`;
    client = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: S3RVER_KEYS.accessKey, secretAccessKey: S3RVER_KEYS.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  });
  after(async () => {
    client?.destroy();
    await server?.close();
    for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
  });

  it('creates a missing bucket and gives it the CORS rule a browser’s ranged GET needs', async () => {
    await assert.rejects(client.send(new HeadBucketCommand({ Bucket: 'init-new' })), { name: 'NotFound' });
    const run = await init(minio('init-new'));
    assert.equal(run.code, 0, run.err);
    assert.equal(run.err, '');
    assert.deepEqual(run.out.split('\n'), [
      `Bucket "init-new" created at the minio storage at ${endpoint}.`,
      'CORS rule set: any origin may GET and HEAD (with Range), as browsers need for download links and video.',
      'CORS checked: the bucket answers GetBucketCors with that rule.',
      'Done: the bucket is ready for Skyvault (skyvault serve); running this again changes nothing.',
    ]);

    await client.send(new HeadBucketCommand({ Bucket: 'init-new' }));
    assert.deepEqual(await rulesOf('init-new'), [EXPECTED_RULE]);

    // What a browser does: the preflight of a ranged GET, then the GET, from a page of another origin.
    const url = `${endpoint}/init-new/ws/media/DJI_0001.MP4`;
    const answer = await preflight(url);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(answer.headers.get('access-control-allow-methods')?.split(/,\s*/), ['GET', 'HEAD']);
    assert.equal(answer.headers.get('access-control-allow-headers'), 'range');
    await client.send(
      new PutObjectCommand({ Bucket: 'init-new', Key: 'ws/media/DJI_0001.MP4', Body: '0123456789' }),
    );
    const read = await fetch(url, { headers: { origin: ORIGIN, range: 'bytes=2-5' } });
    assert.equal(read.status, 206);
    assert.equal(await read.text(), '2345');
    assert.equal(read.headers.get('access-control-allow-origin'), '*');
    assert.match(read.headers.get('access-control-expose-headers') ?? '', /Content-Range/);
    // Writes stay closed to pages.
    assert.equal((await preflight(url, 'PUT')).headers.get('access-control-allow-origin'), null);
  });

  it('finds the bucket and the rule on a second run, and changes nothing', async () => {
    assert.equal((await init(minio('init-twice'))).code, 0);
    const again = await init(minio('init-twice'));
    assert.equal(again.code, 0, again.err);
    assert.equal(again.err, '');
    assert.deepEqual(again.out.split('\n').slice(0, 2), [
      `Bucket "init-twice" already exists at the minio storage at ${endpoint}.`,
      'CORS rule already present: a rule of the bucket lets any origin GET and HEAD (with Range), so nothing was changed.',
    ]);
    assert.deepEqual(await rulesOf('init-twice'), [EXPECTED_RULE], 'one rule, not two');
  });

  it('keeps the bucket’s other CORS rules and adds its own beside them', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'init-others' }));
    const upload: CORSRule = {
      AllowedOrigins: ['https://admin.example'],
      AllowedMethods: ['PUT'],
      AllowedHeaders: ['*'],
    };
    await client.send(
      new PutBucketCorsCommand({ Bucket: 'init-others', CORSConfiguration: { CORSRules: [upload] } }),
    );
    const run = await init(minio('init-others'));
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /^Bucket "init-others" already exists at the minio storage at /m);
    assert.match(
      run.out,
      /^CORS rule set: any origin may GET and HEAD .*, beside the bucket's 1 other rule, which is kept\.$/m,
    );
    assert.deepEqual(await rulesOf('init-others'), [upload, EXPECTED_RULE]);
    assert.equal(
      (await preflight(`${endpoint}/init-others/x.jpg`)).headers.get('access-control-allow-origin'),
      '*',
    );

    const again = await init(minio('init-others'));
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /^CORS rule already present/m);
    assert.deepEqual(await rulesOf('init-others'), [upload, EXPECTED_RULE]);
  });

  it('adds nothing when a rule of the bucket already lets any origin GET and HEAD', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'init-theirs' }));
    const theirs: CORSRule = {
      AllowedOrigins: ['*'],
      AllowedMethods: ['HEAD', 'GET'],
      AllowedHeaders: ['Range'],
      MaxAgeSeconds: 60,
    };
    await client.send(
      new PutBucketCorsCommand({ Bucket: 'init-theirs', CORSConfiguration: { CORSRules: [theirs] } }),
    );
    const run = await init(minio('init-theirs'));
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /^CORS rule already present/m);
    assert.deepEqual(await rulesOf('init-theirs'), [theirs]);
  });

  it('creates an AWS bucket in SKYVAULT_S3_REGION (LocationConstraint), and none for us-east-1', async () => {
    // What reaches s3rver, through a proxy that notes each request's body.
    const seen: { method: string; url: string; body: string }[] = [];
    const proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        seen.push({ method: req.method ?? '', url: req.url ?? '', body: body.toString('utf8') });
        const forward = http.request(
          new URL(req.url ?? '/', endpoint),
          { method: req.method, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', (error) => res.destroy(error));
        forward.end(body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const aws = (bucket: string, region: string) => ({
        ...minio(bucket),
        SKYVAULT_STORAGE: 'aws',
        SKYVAULT_S3_ENDPOINT: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        SKYVAULT_S3_REGION: region,
        SKYVAULT_S3_ROLE_ARN: 'arn:aws:iam::123456789012:role/skyvault-devices',
      });
      const creates = () => seen.filter((r) => r.method === 'PUT' && !r.url.includes('cors'));

      const frankfurt = await init(aws('init-frankfurt', 'eu-central-1'));
      assert.equal(frankfurt.code, 0, frankfurt.err);
      assert.match(frankfurt.out, /^Bucket "init-frankfurt" created at the aws storage at http:/m);
      assert.equal(creates().length, 1);
      assert.match(creates()[0]!.body, /<LocationConstraint>eu-central-1<\/LocationConstraint>/);

      const virginia = await init(aws('init-virginia', 'us-east-1'));
      assert.equal(virginia.code, 0, virginia.err);
      assert.equal(creates().length, 2);
      assert.doesNotMatch(creates()[1]!.body, /LocationConstraint/);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('refuses keys the storage does not accept, in one sentence, without the secret', async () => {
    // s3rver knows the key id only: a wrong id is refused there; a wrong secret on a store that checks.
    const unknownId = await init(minio('init-refused', { SKYVAULT_S3_ACCESS_KEY: 'NOTAKEY' }));
    assert.equal(unknownId.code, 1);
    assert.equal(
      unknownId.err,
      `The minio storage at ${endpoint} refuses SKYVAULT_S3_ACCESS_KEY / SKYVAULT_S3_SECRET_KEY for the bucket "init-refused" (HTTP 403): check the keys, that they may use and create the bucket (s3:ListBucket, s3:CreateBucket), and on S3 that no other account owns the name.`,
    );
    assert.equal(unknownId.out, '');

    const embedded = await startTestStorage();
    try {
      const run = await init({
        SKYVAULT_STORAGE: 'minio',
        SKYVAULT_S3_ENDPOINT: embedded.endpoint,
        SKYVAULT_S3_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
        SKYVAULT_S3_SECRET_KEY: 'not-the-root-secret-0123',
        SKYVAULT_S3_BUCKET: BUCKET,
      });
      assert.equal(run.code, 1);
      assert.match(
        run.err,
        /^The minio storage at http:\/\/127\.0\.0\.1:\d+ refuses SKYVAULT_S3_ACCESS_KEY \/ SKYVAULT_S3_SECRET_KEY for the bucket "skyvault" \(HTTP 403\): /,
      );
      assert.ok(!run.err.includes('not-the-root-secret'), 'without the secret');
      assert.equal(run.out, '');
    } finally {
      await embedded.close();
    }
  });

  it('says that MinIO-like storage answers CORS server-wide when it keeps no bucket rules (the embedded store)', async () => {
    const embedded = await startTestStorage();
    try {
      await embedded.provider.put('ws/media/kept.jpg', Buffer.from('still here'));
      const run = await init({
        SKYVAULT_STORAGE: 'minio',
        SKYVAULT_S3_ENDPOINT: embedded.endpoint,
        SKYVAULT_S3_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
        SKYVAULT_S3_SECRET_KEY: ROOT_CREDENTIALS.secretKey,
        SKYVAULT_S3_BUCKET: BUCKET,
      });
      assert.equal(run.code, 0, run.err);
      assert.deepEqual(run.out.split('\n'), [
        `Bucket "skyvault" already exists at the minio storage at ${embedded.endpoint}.`,
        `CORS: the minio storage at ${embedded.endpoint} takes no per-bucket CORS rules (NotImplemented); community MinIO answers CORS from its server-wide setting (MINIO_API_CORS_ALLOW_ORIGIN), which lets any origin read unless it was changed (docs/storage.md).`,
        'Done: the bucket is ready for Skyvault (skyvault serve); running this again changes nothing.',
      ]);
      assert.equal(run.err, '');
      // The store is as it was: its object, and its own answer to browsers.
      assert.equal((await embedded.provider.head('ws/media/kept.jpg'))?.size, 10);
      const url = await embedded.provider.presignGet('ws/media/kept.jpg', { ttlSeconds: 60 });
      const answer = await preflight(url);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get('access-control-allow-origin'), '*');
      const read = await fetch(url, { headers: { origin: ORIGIN } });
      assert.equal(await read.text(), 'still here');
    } finally {
      await embedded.close();
    }
  });

  it('tells when the storage cannot be reached', async () => {
    const run = await init(minio('init-nowhere', { SKYVAULT_S3_ENDPOINT: 'http://127.0.0.1:9' }));
    assert.equal(run.code, 1);
    assert.match(
      run.err,
      /^The minio storage at http:\/\/127\.0\.0\.1:9 cannot be reached \(.*ECONNREFUSED.*\): check SKYVAULT_S3_ENDPOINT and the network\.$/,
    );
  });

  it('refuses the storages it does not set up: the embedded store, Aliyun OSS', async () => {
    for (const env of [{}, { SKYVAULT_STORAGE: 'local' }] as Record<string, string>[]) {
      const run = await init(env);
      assert.equal(run.code, 1);
      assert.equal(
        run.err,
        'SKYVAULT_STORAGE is local, whose embedded store needs no init: its bucket always exists and it answers CORS itself (docs/storage.md); set SKYVAULT_STORAGE=minio or aws and the SKYVAULT_S3_* settings to set up a bucket.',
      );
      assert.equal(run.out, '');
    }
    // The refusal comes before anything of the ali provider is built or reached.
    const ali = await init({
      SKYVAULT_STORAGE: 'ali',
      SKYVAULT_S3_REGION: 'cn-hangzhou',
      SKYVAULT_S3_ACCESS_KEY: 'LTAIexample0123',
      SKYVAULT_S3_SECRET_KEY: 'ali-secret-0123456789',
      SKYVAULT_S3_ROLE_ARN: 'acs:ram::1234567890123456:role/skyvault-devices',
    });
    assert.equal(ali.code, 1, ali.err);
    assert.match(
      ali.err,
      /^SKYVAULT_STORAGE is ali, .*create the bucket and its CORS rule in the OSS console/,
    );
    assert.equal(ali.out, '');
  });

  it('reads its settings from --config FILE, and answers bad arguments with the usage', async () => {
    const file = path.join(dirs.data, 'skyvault.json');
    writeFileSync(file, JSON.stringify({ ...minio('init-config'), SKYVAULT_DATA_DIR: dirs.data }));
    const run = await init({}, ['--config', file]);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /^Bucket "init-config" created at the minio storage at /m);

    for (const args of [['--dry-run'], ['extra'], ['--config']]) {
      const bad = await init({}, args);
      assert.equal(bad.code, 2, args.join(' '));
      assert.match(bad.err, /\n\nUsage:\n {2}storage init \[--config FILE\]/);
    }
    const err: string[] = [];
    const none = await storage([], { out: () => {}, err: (line) => err.push(line) });
    assert.equal(none, 2);
    assert.match(err.join('\n'), /^storage needs an action: "init" or "migrate"/);
  });

  it('is what `serve` names for a missing bucket, and what it then finds', async () => {
    const refusal = () => startupRefusal(minio('init-serve'));
    assert.match(
      await refusal(),
      /^The bucket "init-serve" does not exist at the minio storage at http:\/\/127\.0\.0\.1:\d+: create it with `skyvault storage init` /,
    );
    assert.equal((await init(minio('init-serve'))).code, 0);
    // s3rver has no STS: start-up now gets past the bucket, to the next check.
    assert.match(await refusal(), /refuses to issue temporary credentials/);
  });

  it('runs as `skyvault storage init`, printing each step, exit code 0', async () => {
    const cli = runCli(['storage', 'init'], {
      SKYVAULT_DATA_DIR: dirs.data,
      SKYVAULT_LOG_LEVEL: 'warn',
      ...minio('init-cli'),
    });
    assert.equal(await cli.exited(), 0, cli.stderr());
    assert.match(
      cli.stdout(),
      /^Bucket "init-cli" created at the minio storage at http:\/\/127\.0\.0\.1:\d+\.$/m,
    );
    assert.match(cli.stdout(), /^CORS rule set: any origin may GET and HEAD/m);
    assert.match(cli.stdout(), /^Done: /m);
    assert.deepEqual(await rulesOf('init-cli'), [EXPECTED_RULE]);
  });
});
