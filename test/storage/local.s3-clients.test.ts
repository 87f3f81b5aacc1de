import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { UploadCredentials } from '../../src/storage/provider.ts';
import { BUCKET, minioClient, sdkClient, startTestStorage, type TestStorage } from '../helpers/storage.ts';
import { tempDir } from '../helpers/test-app.ts';
import { readAll } from './conformance.ts';

const md5hex = (data: Buffer) => createHash('md5').update(data).digest('hex');
const UNICODE_KEY = 'ws1/media/DJI_2024 01 01/dir with space/ünïcødé 文件 +plus&amp=eq~tilde(1)!.jpg';

describe('embedded S3 endpoint with real S3 clients', () => {
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

  describe('AWS SDK v3', () => {
    it('puts a Buffer (CRC32 header), a string and a 10 MB stream (aws-chunked + CRC32 trailer)', async () => {
      const buffer = randomBytes(300_000);
      const put = await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/buffer.bin', Body: buffer }),
      );
      assert.equal(put.ETag, `"${md5hex(buffer)}"`);
      assert.ok(put.ChecksumCRC32, 'the server echoes the checksum it verified');
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: 'ws1/media/text.txt',
          Body: 'hello',
          ContentType: 'text/plain',
        }),
      );

      const file = path.join(tempDir(), 'big.bin');
      const big = randomBytes(10 * 1024 * 1024);
      writeFileSync(file, big);
      const streamed = await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: 'ws1/media/stream.bin',
          Body: createReadStream(file),
          ContentLength: big.length,
        }),
      );
      assert.equal(streamed.ETag, `"${md5hex(big)}"`);
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/stream.bin' }));
      assert.equal(head.ContentLength, big.length);
      assert.equal(head.ContentEncoding, undefined, 'aws-chunked is not stored');
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/stream.bin' }));
      assert.equal(md5hex(Buffer.from(await got.Body!.transformToByteArray())), md5hex(big));
      const text = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/text.txt' }));
      assert.equal(text.ContentType, 'text/plain');
      assert.equal(await text.Body!.transformToString(), 'hello');
    });

    it('reads ranges and refuses unsatisfiable ones', async () => {
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/range.bin', Body: data }));
      const get = async (Range: string) => {
        const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/range.bin', Range }));
        return { bytes: Buffer.from(await r.Body!.transformToByteArray()), range: r.ContentRange };
      };
      assert.deepEqual(await get('bytes=100-199'), {
        bytes: data.subarray(100, 200),
        range: 'bytes 100-199/1000',
      });
      assert.deepEqual((await get('bytes=-10')).bytes, data.subarray(990));
      assert.deepEqual((await get('bytes=990-')).bytes, data.subarray(990));
      assert.deepEqual((await get('bytes=995-5000')).bytes, data.subarray(995));
      await assert.rejects(get('bytes=1000-'), (e: Error) => e.name === 'InvalidRange');
    });

    it('uploads 12 MB in 5 MB parts with lib-storage (multipart ETag md5-of-md5s-3)', async () => {
      const data = randomBytes(12 * 1024 * 1024);
      const result = await new Upload({
        client: s3,
        params: { Bucket: BUCKET, Key: 'ws1/media/multi.bin', Body: data },
        partSize: 5 * 1024 * 1024,
        queueSize: 2,
      }).done();
      const parts = [data.subarray(0, 5 << 20), data.subarray(5 << 20, 10 << 20), data.subarray(10 << 20)];
      const expected = createHash('md5')
        .update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
        .digest('hex');
      assert.equal(result.ETag, `"${expected}-3"`);
      const got = await s3.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/multi.bin', Range: 'bytes=5242870-5242889' }),
      );
      assert.deepEqual(
        Buffer.from(await got.Body!.transformToByteArray()),
        data.subarray(5242870, 5242890),
        'a range across parts',
      );
      const whole = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/multi.bin' }));
      assert.equal(md5hex(Buffer.from(await whole.Body!.transformToByteArray())), md5hex(data));
    });

    it('lists parts, refuses small or unknown parts, and aborts', async () => {
      const Key = 'ws1/media/manual.bin';
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key }));
      const p1 = await s3.send(
        new UploadPartCommand({ Bucket: BUCKET, Key, UploadId, PartNumber: 1, Body: randomBytes(1024) }),
      );
      const p2 = await s3.send(
        new UploadPartCommand({ Bucket: BUCKET, Key, UploadId, PartNumber: 2, Body: randomBytes(1024) }),
      );
      const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key, UploadId }));
      assert.deepEqual(
        listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]),
        [
          [1, p1.ETag, 1024],
          [2, p2.ETag, 1024],
        ],
      );
      const complete = (Parts: { PartNumber: number; ETag: string }[]) =>
        s3.send(
          new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key, UploadId, MultipartUpload: { Parts } }),
        );
      await assert.rejects(
        complete([
          { PartNumber: 1, ETag: p1.ETag! },
          { PartNumber: 2, ETag: p2.ETag! },
        ]),
        (e: Error) => e.name === 'EntityTooSmall',
      );
      await assert.rejects(
        complete([{ PartNumber: 1, ETag: p2.ETag! }]),
        (e: Error) => e.name === 'InvalidPart',
      );
      await assert.rejects(
        complete([
          { PartNumber: 2, ETag: p2.ETag! },
          { PartNumber: 1, ETag: p1.ETag! },
        ]),
        (e: Error) => e.name === 'InvalidPartOrder',
      );
      await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key, UploadId }));
      await assert.rejects(
        s3.send(new UploadPartCommand({ Bucket: BUCKET, Key, UploadId, PartNumber: 3, Body: 'x' })),
        (e: Error) => e.name === 'NoSuchUpload',
      );
      await assert.rejects(
        s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key })),
        (e: Error) => e.name === 'NotFound',
      );
      // A one-part upload may be small.
      const single = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key }));
      const only = await s3.send(
        new UploadPartCommand({
          Bucket: BUCKET,
          Key,
          UploadId: single.UploadId,
          PartNumber: 1,
          Body: 'tiny',
        }),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key,
          UploadId: single.UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: only.ETag! }] },
        }),
      );
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key }))).ContentLength, 4);
    });

    it('lists with prefix, delimiter and continuation tokens', async () => {
      for (const name of ['l/a.jpg', 'l/b.jpg', 'l/sub/c.jpg', 'l/sub/d.jpg', 'l/z.jpg']) {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `ws1/media/${name}`, Body: name }));
      }
      const page1 = await s3.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'ws1/media/l/', Delimiter: '/', MaxKeys: 2 }),
      );
      assert.deepEqual(
        page1.Contents?.map((c) => c.Key),
        ['ws1/media/l/a.jpg', 'ws1/media/l/b.jpg'],
      );
      assert.equal(page1.IsTruncated, true);
      const page2 = await s3.send(
        new ListObjectsV2Command({
          Bucket: BUCKET,
          Prefix: 'ws1/media/l/',
          Delimiter: '/',
          MaxKeys: 2,
          ContinuationToken: page1.NextContinuationToken,
        }),
      );
      assert.deepEqual(
        page2.CommonPrefixes?.map((p) => p.Prefix),
        ['ws1/media/l/sub/'],
      );
      assert.deepEqual(
        page2.Contents?.map((c) => c.Key),
        ['ws1/media/l/z.jpg'],
      );
      assert.equal(page2.IsTruncated, false);
      const all = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'ws1/media/l/' }));
      assert.equal(all.KeyCount, 5);
    });

    it('deletes one and many objects', async () => {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/del/1', Body: '1' }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/del/2', Body: '2' }));
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/del/1' }));
      await assert.rejects(
        s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/del/1' })),
        (e: Error) => e.name === 'NotFound',
      );
      const result = await s3.send(
        new DeleteObjectsCommand({
          Bucket: BUCKET,
          Delete: { Objects: [{ Key: 'ws1/media/del/2' }, { Key: 'ws2/media/x' }] },
        }),
      );
      assert.deepEqual(
        result.Deleted?.map((d) => d.Key),
        ['ws1/media/del/2'],
      );
      assert.deepEqual(
        result.Errors?.map((e) => [e.Key, e.Code]),
        [['ws2/media/x', 'AccessDenied']],
      );
    });

    it('round-trips keys with spaces, unicode and +', async () => {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: UNICODE_KEY, Body: 'unicode' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: UNICODE_KEY }));
      assert.equal(await got.Body!.transformToString(), 'unicode');
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'ws1/media/DJI_2024 01 01/' }),
      );
      assert.deepEqual(
        listed.Contents?.map((c) => c.Key),
        [UNICODE_KEY],
      );
      assert.equal(storage.provider.store.head(UNICODE_KEY)?.size, 7, 'stored under the exact key');
    });
  });

  describe('presigned URLs from @aws-sdk/s3-request-presigner', () => {
    it('PUTs and GETs (with a Range) through fetch', async () => {
      const Key = 'ws1/media/presigned ü+.bin';
      const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key }), {
        expiresIn: 300,
      });
      assert.equal((await fetch(putUrl, { method: 'PUT', body: 'presigned body' })).status, 200);
      const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key }), {
        expiresIn: 300,
      });
      const response = await fetch(getUrl, { headers: { range: 'bytes=0-8' } });
      assert.equal(response.status, 206);
      assert.equal(await response.text(), 'presigned');
      const tampered = getUrl.replace(
        encodeURIComponent('presigned ü+.bin').replace(/%20/g, '%20'),
        'other.bin',
      );
      assert.equal((await fetch(tampered)).status, 403);
    });
  });

  describe('minio client', () => {
    it('puts, stats, reads ranges, uploads multipart, presigns, lists and removes', async () => {
      const minio = minioClient(creds, { partSize: 5 * 1024 * 1024 });
      const data = randomBytes(4096);
      await minio.putObject(BUCKET, 'ws1/media/minio/a file+.bin', data);
      const stat = await minio.statObject(BUCKET, 'ws1/media/minio/a file+.bin');
      assert.equal(stat.size, 4096);
      assert.equal(stat.etag, md5hex(data));
      const partial = await readAll(
        await minio.getPartialObject(BUCKET, 'ws1/media/minio/a file+.bin', 10, 20),
      );
      assert.deepEqual(partial, data.subarray(10, 30));

      const big = randomBytes(11 * 1024 * 1024);
      await minio.putObject(BUCKET, 'ws1/media/minio/big.bin', Readable.from([big]), big.length);
      const bigStat = await minio.statObject(BUCKET, 'ws1/media/minio/big.bin');
      assert.equal(bigStat.size, big.length);
      assert.match(bigStat.etag, /-\d+$/, 'uploaded as a multipart upload');
      assert.equal(
        md5hex(await readAll(await minio.getObject(BUCKET, 'ws1/media/minio/big.bin'))),
        md5hex(big),
      );

      const url = await minio.presignedGetObject(BUCKET, 'ws1/media/minio/a file+.bin', 60);
      assert.deepEqual(Buffer.from(await (await fetch(url)).arrayBuffer()), data);

      const names: string[] = [];
      for await (const item of minio.listObjectsV2(BUCKET, 'ws1/media/minio/', true))
        names.push((item as { name: string }).name);
      assert.deepEqual(names, ['ws1/media/minio/a file+.bin', 'ws1/media/minio/big.bin']);
      await minio.removeObject(BUCKET, 'ws1/media/minio/a file+.bin');
      await assert.rejects(
        minio.statObject(BUCKET, 'ws1/media/minio/a file+.bin'),
        (e: { code?: string }) => e.code === 'NotFound',
      );
    });
  });
});

describe('embedded S3 endpoint refusals', () => {
  let storage: TestStorage;
  before(async () => {
    storage = await startTestStorage();
  });
  after(() => storage.close());
  const put = (client: S3Client, Key: string) =>
    client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'x' }));
  const rejectsWith = async (promise: Promise<unknown>, name: string) =>
    assert.rejects(promise, (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, name, e.message);
      return true;
    });

  it('keeps credentials inside their prefix', async () => {
    const client = sdkClient(await storage.credentials('ws1/media'));
    await rejectsWith(put(client, 'ws2/media/a.jpg'), 'AccessDenied');
    await rejectsWith(put(client, 'ws1/media-evil/a.jpg'), 'AccessDenied');
    await rejectsWith(put(client, 'ws1/media'), 'AccessDenied');
    await rejectsWith(
      client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'ws2/' })),
      'AccessDenied',
    );
    await rejectsWith(
      client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/missing' })),
      'NoSuchKey',
    );
  });

  it('allows only the actions granted', async () => {
    const readOnly = sdkClient(await storage.credentials('ws1/media', { actions: ['get'] }));
    await rejectsWith(put(readOnly, 'ws1/media/a.jpg'), 'AccessDenied');
    const device = sdkClient(
      await storage.provider.issueUploadCredentials({ prefix: 'ws1/media', ttlSeconds: 60 }),
    );
    await put(device, 'ws1/media/by-device.jpg');
    await rejectsWith(
      device.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/by-device.jpg' })),
      'AccessDenied',
    );
  });

  it('refuses expired, altered and foreign tokens, wrong secrets and other buckets', async () => {
    const creds = await storage.credentials('ws1/media', { ttlSeconds: 60 });
    storage.clock.offsetMs = 61_000;
    try {
      await rejectsWith(put(sdkClient(creds), 'ws1/media/late.jpg'), 'ExpiredToken');
    } finally {
      storage.clock.offsetMs = 0;
    }
    const [v, payload, mac] = creds.securityToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const widened = Buffer.from(JSON.stringify({ ...claims, p: '' })).toString('base64url');
    await rejectsWith(
      put(sdkClient({ ...creds, securityToken: `${v}.${widened}.${mac}` }), 'ws2/x'),
      'InvalidToken',
    );
    await rejectsWith(
      put(sdkClient({ ...creds, accessKeySecret: `${creds.accessKeySecret}x` }), 'ws1/media/a'),
      'SignatureDoesNotMatch',
    );
    const other = await storage.credentials('ws1/media');
    await rejectsWith(
      put(sdkClient({ ...creds, securityToken: other.securityToken }), 'ws1/media/a'),
      'InvalidAccessKeyId',
    );
    await rejectsWith(
      sdkClient(creds).send(new PutObjectCommand({ Bucket: 'other', Key: 'ws1/media/a', Body: 'x' })),
      'NoSuchBucket',
    );
  });

  it('refuses a client clock 20 minutes off with RequestTimeTooSkewed', async () => {
    const creds = await storage.credentials('ws1/media');
    await rejectsWith(
      put(sdkClient(creds, { systemClockOffset: -20 * 60_000 }), 'ws1/media/skew.jpg'),
      'RequestTimeTooSkewed',
    );
  });

  it('refuses anonymous requests and answers S3 XML errors', async () => {
    const response = await fetch(`${storage.endpoint}/${BUCKET}/ws1/media/a.jpg`);
    assert.equal(response.status, 403);
    const body = await response.text();
    assert.match(body, /<Code>AccessDenied<\/Code>/);
    assert.ok(response.headers.get('date'), 'errors carry a Date header (SDK clock correction)');
  });

  it('keeps the last of concurrent uploads to one key whole, leaving no stray blob', async () => {
    const client = sdkClient(await storage.credentials('ws1/media'));
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(256 * 1024, i + 1));
    await Promise.all(
      bodies.map((Body) =>
        client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/race.bin', Body })),
      ),
    );
    const got = Buffer.from(
      await (
        await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'ws1/media/race.bin' }))
      ).Body!.transformToByteArray(),
    );
    assert.equal(got.length, 256 * 1024);
    assert.ok(
      bodies.some((b) => b.equals(got)),
      'the object is one of the uploads, not a mix',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const blobs = readdirSync(path.join(storage.root, 'blobs'), {
      recursive: true,
      withFileTypes: true,
    }).filter((e) => e.isFile());
    const objects = [...storage.provider.store.iterate('', undefined)];
    assert.equal(blobs.length, objects.length, 'one blob per single-part object');
  });
});
