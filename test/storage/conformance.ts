/**
 * The behaviour every StorageProvider must have, one suite for all (as tus runs one against every store):
 * the local store, and the MinIO, AWS and Aliyun OSS providers against the embedded store, which
 * answers their STS and signatures as those services do (s3.conformance.test.ts, ali.conformance.test.ts).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { StorageProvider } from '../../src/storage/provider.ts';
import { deviceStorageClient } from '../helpers/device-storage.ts';

export interface ConformanceTarget {
  provider: StorageProvider;
  /** Moves the provider's clock forward (for expiry checks). */
  advanceClock(ms: number): void;
  close(): Promise<void>;
}

const md5 = (data: Buffer) => `"${createHash('md5').update(data).digest('hex')}"`;

export function storageConformance(name: string, start: () => Promise<ConformanceTarget>): void {
  describe(`${name} storage provider conformance`, () => {
    let target: ConformanceTarget;
    let storage: StorageProvider;
    before(async () => {
      target = await start();
      storage = target.provider;
    });
    after(() => target.close());

    it('stores, describes and returns an object, whole and by range', async () => {
      const data = Buffer.from('0123456789'.repeat(100));
      const put = await storage.put('ws/conf/a.txt', data, { contentType: 'text/plain' });
      assert.equal(put.size, 1000);
      assert.equal(put.etag, md5(data));
      const head = await storage.head('ws/conf/a.txt');
      const { md5: knownMd5, ...described } = head ?? {};
      assert.deepEqual(
        { ...described, lastModified: 0 },
        { key: 'ws/conf/a.txt', size: 1000, etag: md5(data), contentType: 'text/plain', lastModified: 0 },
      );
      // A provider may not know the bytes' MD5 (multipart, cloud encryption); when it says one, it is right.
      if (knownMd5 !== undefined) {
        assert.equal(knownMd5, createHash('md5').update(data).digest('hex'));
      }
      const whole = await storage.get('ws/conf/a.txt');
      assert.deepEqual(await readAll(whole!.body), data);
      const part = await storage.get('ws/conf/a.txt', { start: 995, end: 999 });
      assert.equal((await readAll(part!.body)).toString(), '56789');
      assert.equal(await storage.head('ws/conf/missing'), undefined);
      assert.equal(await storage.get('ws/conf/missing'), undefined);
    });

    it('overwrites, deletes (a missing object too) and lists by prefix in key order, paged', async () => {
      for (const key of ['ws/list/b', 'ws/list/a', 'ws/list/c/d', 'ws/listed-elsewhere', 'ws/list/a']) {
        await storage.put(key, Buffer.from(key));
      }
      const first = await storage.list('ws/list/', { limit: 2 });
      assert.deepEqual(
        first.objects.map((o) => o.key),
        ['ws/list/a', 'ws/list/b'],
      );
      assert.equal(first.nextAfter, 'ws/list/b');
      const second = await storage.list('ws/list/', { after: first.nextAfter!, limit: 2 });
      assert.deepEqual(
        second.objects.map((o) => o.key),
        ['ws/list/c/d'],
      );
      assert.equal(second.nextAfter, undefined);
      await storage.delete('ws/list/b');
      await storage.delete('ws/list/never-existed');
      assert.deepEqual(
        (await storage.list('ws/list/')).objects.map((o) => o.key),
        ['ws/list/a', 'ws/list/c/d'],
      );
    });

    it('presigns GET URLs that work until they expire', async () => {
      await storage.put('ws/conf/DJI 0001 ü+.jpg', Buffer.from('jpeg bytes'), { contentType: 'image/jpeg' });
      const url = await storage.presignGet('ws/conf/DJI 0001 ü+.jpg', {
        ttlSeconds: 60,
        downloadName: 'DJI 0001.jpg',
      });
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'jpeg bytes');
      assert.equal(response.headers.get('content-type'), 'image/jpeg');
      assert.match(
        response.headers.get('content-disposition') ?? '',
        /attachment; filename\*=UTF-8''DJI%200001\.jpg/,
      );
      const ranged = await fetch(url, { headers: { range: 'bytes=0-3' } });
      assert.equal(ranged.status, 206);
      assert.equal(await ranged.text(), 'jpeg');
      target.advanceClock(61_000);
      assert.equal((await fetch(url)).status, 403);
      target.advanceClock(-61_000);
    });

    it('issues upload credentials limited to their prefix', async () => {
      const credentials = await storage.issueUploadCredentials({ prefix: 'ws-a/media/', ttlSeconds: 900 });
      assert.equal(credentials.prefix, 'ws-a/media');
      assert.match(credentials.endpoint, /^https?:\/\//);
      assert.ok(['minio', 'aws', 'ali'].includes(credentials.provider));
      assert.ok(credentials.expiresAt > Date.now() + 800_000);
      // The device's own client for the provider: S3's, or Aliyun's OSS client.
      const client = deviceStorageClient(credentials);
      await client.put('ws-a/media/x.jpg', 'ok');
      assert.equal((await storage.head('ws-a/media/x.jpg'))?.size, 2);
      await assert.rejects(
        client.put('ws-b/media/x.jpg', 'no'),
        (e: Error & { code?: string }) => (e.code ?? e.name) === 'AccessDenied',
      );
      client.close();
    });
  });
}

export async function readAll(stream: AsyncIterable<Buffer | Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
