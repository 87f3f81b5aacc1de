/**
 * Browsers read media straight from the embedded store, from pages of another origin (the web library,
 * DJI's demo front end): preflights for GET and HEAD are answered, reads carry CORS headers with what a
 * video player needs exposed, and writes stay closed to pages.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { GetBucketCorsCommand, PutBucketCorsCommand, S3Client } from '@aws-sdk/client-s3';
import { BUCKET, REGION, ROOT_CREDENTIALS, startTestStorage, type TestStorage } from '../helpers/storage.ts';

const ORIGIN = 'http://library.example:8080';
const KEY = 'ws-cors/media/flight/DJI_0001.MP4';

function request(
  url: string,
  method: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('embedded store CORS', () => {
  let storage: TestStorage;
  let url: string;

  before(async () => {
    storage = await startTestStorage();
    await storage.provider.put(KEY, Buffer.from('0123456789'), { contentType: 'video/mp4' });
    url = await storage.provider.presignGet(KEY, { ttlSeconds: 600, publicHostname: '127.0.0.1' });
  });
  after(() => storage.close());

  it('answers the preflight of a ranged GET from any origin', async () => {
    const res = await request(url, 'OPTIONS', {
      origin: ORIGIN,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'range',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.match(String(res.headers['access-control-allow-methods']), /GET/);
    assert.match(String(res.headers['access-control-allow-methods']), /HEAD/);
    assert.equal(res.headers['access-control-allow-headers'], 'range');
  });

  it('lets a page read a presigned GET, Range included, and see the range headers', async () => {
    const res = await request(url, 'GET', { origin: ORIGIN, range: 'bytes=2-5' });
    assert.equal(res.status, 206);
    assert.equal(res.body, '2345');
    assert.equal(res.headers['access-control-allow-origin'], '*');
    const exposed = String(res.headers['access-control-expose-headers']).toLowerCase();
    for (const name of ['content-range', 'accept-ranges', 'content-length', 'etag']) {
      assert.ok(exposed.includes(name), `${name} exposed`);
    }
  });

  it('still checks the signature of a cross-origin read, and lets the page read the refusal', async () => {
    const tampered = url.replace('X-Amz-Signature=', 'X-Amz-Signature=0');
    const res = await request(tampered, 'GET', { origin: ORIGIN });
    assert.equal(res.status, 403);
    assert.match(res.body, /SignatureDoesNotMatch/);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    // A presigned URL is bound to its method, CORS or not.
    const head = await request(url, 'HEAD', { origin: ORIGIN });
    assert.equal(head.status, 403);
  });

  it('refuses the preflight of a write', async () => {
    const res = await request(url, 'OPTIONS', { origin: ORIGIN, 'access-control-request-method': 'PUT' });
    assert.equal(res.status, 403);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  it('keeps no bucket CORS rules, and says so to S3 clients that ask (GetBucketCors, PutBucketCors)', async () => {
    const client = new S3Client({
      endpoint: storage.endpoint,
      region: REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: ROOT_CREDENTIALS.accessKey, secretAccessKey: ROOT_CREDENTIALS.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
    try {
      const notImplemented = (error: Error & { $metadata?: { httpStatusCode?: number } }) =>
        error.name === 'NotImplemented' && error.$metadata?.httpStatusCode === 501;
      await assert.rejects(client.send(new GetBucketCorsCommand({ Bucket: BUCKET })), notImplemented);
      await assert.rejects(
        client.send(
          new PutBucketCorsCommand({
            Bucket: BUCKET,
            CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PUT'] }] },
          }),
        ),
        notImplemented,
      );
    } finally {
      client.destroy();
    }
    // Writes are still refused to pages.
    const res = await request(url, 'OPTIONS', { origin: ORIGIN, 'access-control-request-method': 'PUT' });
    assert.equal(res.status, 403);
  });

  it('adds nothing to requests without an Origin (S3 clients)', async () => {
    const res = await request(url, 'GET', {});
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});
