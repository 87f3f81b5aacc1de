/**
 * Keys that are not what they look like (issue 13, hole 4): `.` and `..` segments, empty segments,
 * control characters and over-long keys are refused by every write of the embedded store, as MinIO
 * refuses them (400 XMinioInvalidObjectName; KeyTooLongError past 1,024 bytes), through real S3 clients
 * and through raw signed requests for what a client would normalise away. Reads and deletes take keys
 * literally: such a key names no object (NoSuchKey), and an object stored under one before the rule
 * can still be read and removed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { UploadCredentials } from '../../src/storage/provider.ts';
import {
  BUCKET,
  minioClient,
  s3Signer,
  sdkClient,
  startTestStorage,
  type TestStorage,
} from '../helpers/storage.ts';

/** Keys a client can send as they are (the SDK percent-encodes each segment and keeps dots and slashes). */
const BAD_KEYS: [string, string][] = [
  ['double slash', 'ws1/media//x.jpg'],
  ['trailing slash', 'ws1/media/dir/'],
  ['dot segment', 'ws1/media/./x.jpg'],
  ['dot-dot segment', 'ws1/media/a/../x.jpg'],
  ['escape to another workspace', 'ws1/media/../../ws2/media/x.jpg'],
  ['NUL', 'ws1/media/x\u0000.jpg'],
  ['newline', 'ws1/media/x\n.jpg'],
  ['unit separator', 'ws1/media/x\u001f.jpg'],
  ['DEL', 'ws1/media/x\u007f.jpg'],
];

interface RawResponse {
  status: number;
  body: string;
}

describe('embedded S3 endpoint: object keys', () => {
  let storage: TestStorage;
  let creds: UploadCredentials;
  let s3: S3Client;
  before(async () => {
    storage = await startTestStorage();
    creds = await storage.credentials('ws1/media');
    s3 = sdkClient(creds);
  });
  after(async () => {
    s3.destroy();
    await storage.close();
  });

  const stored = async () => (await storage.provider.list('')).objects.map((o) => o.key);
  const refusedAsInvalid = (e: Error & { $metadata?: { httpStatusCode?: number } }) =>
    e.name === 'XMinioInvalidObjectName' && e.$metadata?.httpStatusCode === 400;

  /** Stores bytes under `key` in the store itself, bypassing the endpoint (an object from before the rule). */
  const plant = async (key: string, body: string) => {
    const tmpPath = storage.provider.store.tmpPath();
    writeFileSync(tmpPath, body);
    const md5Hex = createHash('md5').update(body).digest('hex');
    await storage.provider.store.putObject(
      key,
      { tmpPath, size: body.length, md5Hex },
      'text/plain',
      Date.now(),
    );
  };

  /** A request signed by the AWS SDK's signer for exactly `rawPath` (no normalisation on the way). */
  async function raw(method: string, rawPath: string, body = ''): Promise<RawResponse> {
    const url = new URL(creds.endpoint);
    const signer = s3Signer(creds);
    // The path as the server rebuilds it to check the signature: each segment decoded once and
    // re-encoded (a segment that does not decode is refused before any signature check).
    const canonical = (segment: string) => {
      try {
        return encodeURIComponent(decodeURIComponent(segment));
      } catch {
        return segment;
      }
    };
    const signed = await signer.sign({
      method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: rawPath.split('/').map(canonical).join('/'),
      query: {},
      headers: {
        host: url.host,
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        'content-length': String(Buffer.byteLength(body)),
      },
    });
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: url.hostname,
        port: url.port,
        method,
        path: rawPath,
        headers: signed.headers,
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('refuses them on PutObject through the AWS SDK, storing nothing', async () => {
    for (const [name, key] of BAD_KEYS) {
      await assert.rejects(
        s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' })),
        refusedAsInvalid,
        name,
      );
    }
    await assert.rejects(
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `ws1/media/${'é'.repeat(600)}`, Body: 'x' })),
      (e: Error) => e.name === 'KeyTooLongError',
      'a key of more than 1,024 bytes (UTF-8)',
    );
    assert.deepEqual(await stored(), []);
    // What is refused is the key, not the characters: the same names as one plain segment are fine.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/..x/.y/x..jpg', Body: 'ok' }));
    assert.deepEqual(await stored(), ['ws1/media/..x/.y/x..jpg']);
  });

  it('refuses them as raw paths, percent-encoded or not, whatever a client would normalise', async () => {
    for (const rawPath of [
      `/${BUCKET}/ws1/media/../../ws2/media/x.jpg`,
      `/${BUCKET}/ws1/media/%2E%2E/%2e%2e/ws2/media/x.jpg`,
      `/${BUCKET}/ws1/media/%2E/x.jpg`,
      `/${BUCKET}/ws1/media/a%2F%2Fb.jpg`,
      `/${BUCKET}/ws1/media/x%00.jpg`,
      `/${BUCKET}/ws1/media/x%0D%0A.jpg`,
      `/${BUCKET}/ws1/media/x%7F.jpg`,
    ]) {
      const response = await raw('PUT', rawPath, 'raw');
      assert.equal(response.status, 400, `${rawPath}: ${response.body}`);
      assert.match(response.body, /<Code>XMinioInvalidObjectName<\/Code>/, rawPath);
    }
    // Percent-encoding that is not UTF-8 is no key at all.
    const notUtf8 = await raw('PUT', `/${BUCKET}/ws1/media/x%FF%FE.jpg`, 'raw');
    assert.equal(notUtf8.status, 400, notUtf8.body);
    assert.match(notUtf8.body, /<Code>InvalidArgument<\/Code>/);
    assert.deepEqual(await stored(), ['ws1/media/..x/.y/x..jpg']);
  });

  it('refuses them on every multipart write: create, part, complete', async () => {
    for (const [name, key] of BAD_KEYS) {
      await assert.rejects(
        s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key })),
        refusedAsInvalid,
        name,
      );
    }
    assert.deepEqual(storage.provider.store.listUploads(''), []);
    // An upload begun under such a key before the rule can receive no part and cannot complete.
    const key = 'ws1/media/../../ws2/media/mp.bin';
    const uploadId = storage.provider.store.createUpload(key, 'binary/octet-stream', Date.now());
    await assert.rejects(
      s3.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, Body: 'part' }),
      ),
      refusedAsInvalid,
    );
    await assert.rejects(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] },
        }),
      ),
      refusedAsInvalid,
    );
    assert.deepEqual(storage.provider.store.parts(uploadId), []);
    assert.equal(storage.provider.store.head(key), undefined);
    await storage.provider.store.abortUpload(uploadId);
  });

  it('refuses them through the minio client too', async () => {
    const minio = minioClient(creds);
    await assert.rejects(
      minio.putObject(BUCKET, 'ws1/media/x\u0001.jpg', Buffer.from('x')),
      (e: Error & { code?: string }) => e.code === 'XMinioInvalidObjectName',
    );
    assert.deepEqual(await stored(), ['ws1/media/..x/.y/x..jpg']);
  });

  it('reads and deletes keys literally: NoSuchKey when absent, and an old object can be removed', async () => {
    await assert.rejects(
      s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media//x.jpg' })),
      (e: Error) => e.name === 'NoSuchKey',
    );
    const legacy = 'ws1/media//legacy.jpg';
    await plant(legacy, 'stored before the rule');
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: legacy }));
    assert.equal(head.ContentLength, 'stored before the rule'.length);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: legacy }));
    assert.equal(await storage.provider.head(legacy), undefined);
  });

  it("refuses them in the server's own writes", async () => {
    await assert.rejects(storage.provider.put('ws1/media/../x.jpg', Buffer.from('x')), /object key/i);
    assert.deepEqual(await stored(), ['ws1/media/..x/.y/x..jpg']);
  });
});
