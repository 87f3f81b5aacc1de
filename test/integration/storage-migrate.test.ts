/**
 * Moving the embedded store into a bucket (src/storage/migrate.ts, `skyvault storage migrate`). The
 * source is a running embedded store, read from disk as the command reads it. The target is the
 * `minio` provider's real code path against a second embedded store that plays MinIO (its root
 * credentials). Every object must arrive with its bytes and its content type. Re-runs and interrupted
 * runs copy only what is missing. A different object under the same key is replaced. Bytes that do not
 * match the index are never copied, and a blob replaced while it is read gives one version or a retry,
 * never a mix of two.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createLogger } from '../../src/shared/logger.ts';
import {
  EmbeddedStoreReader,
  type MigrationOptions,
  migrateObjects,
  SourceChangedError,
} from '../../src/storage/migrate.ts';
import { AliProvider } from '../../src/storage/ali/ali.provider.ts';
import type { ObjectInfo, StorageProvider } from '../../src/storage/provider.ts';
import { S3Provider, type S3ProviderOptions } from '../../src/storage/s3/s3.provider.ts';
import { BUCKET, REGION, ROOT_CREDENTIALS, startTestStorage, type TestStorage } from '../helpers/storage.ts';
import { tempDir } from '../helpers/test-app.ts';

const MiB = 1024 * 1024;

interface Fixture {
  key: string;
  body: Buffer;
  contentType: string;
}

const FIXTURES: Fixture[] = [
  { key: 'ws1/media/DJI_0001.JPG', body: randomBytes(100_000), contentType: 'image/jpeg' },
  { key: 'ws1/media/empty.txt', body: Buffer.alloc(0), contentType: 'text/plain' },
  { key: 'ws1/media/with space/DJI 0002.JPG', body: randomBytes(3000), contentType: 'image/jpeg' },
  { key: 'ws1/media/ünïcødé/写真 📷.jpg', body: randomBytes(4000), contentType: 'image/jpeg' },
  { key: 'ws1/logs/a+b=c&d;e.tar', body: randomBytes(5000), contentType: 'application/x-tar' },
  // Exactly one target part: still one PUT, whose ETag is the MD5.
  { key: 'ws2/media/five-mib.bin', body: randomBytes(5 * MiB), contentType: 'application/octet-stream' },
];
/** Uploaded in 6 MiB parts (6 + 6 + 1), copied in 5 MiB ones (5 + 5 + 3): the ETags differ. */
const MULTIPART: Fixture = {
  key: 'ws1/media/DJI_0003.MP4',
  body: randomBytes(13 * MiB),
  contentType: 'video/mp4',
};
const ALL = [...FIXTURES, MULTIPART];
const TOTAL_BYTES = ALL.reduce((sum, f) => sum + f.body.length, 0);

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

function rootClient(storage: TestStorage): S3Client {
  return new S3Client({
    endpoint: storage.endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ROOT_CREDENTIALS.accessKey, secretAccessKey: ROOT_CREDENTIALS.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

async function uploadMultipart(storage: TestStorage, fixture: Fixture, partSize: number): Promise<void> {
  const client = rootClient(storage);
  try {
    await new Upload({
      client,
      params: { Bucket: BUCKET, Key: fixture.key, Body: fixture.body, ContentType: fixture.contentType },
      partSize,
    }).done();
  } finally {
    client.destroy();
  }
}

function providerOptions(upstream: TestStorage): S3ProviderOptions {
  return {
    kind: 'minio',
    endpoint: upstream.endpoint,
    publicEndpoint: undefined,
    bucket: BUCKET,
    region: REGION,
    accessKey: ROOT_CREDENTIALS.accessKey,
    secretKey: ROOT_CREDENTIALS.secretKey,
    roleArn: undefined,
    logger: createLogger('silent'),
  };
}

/** A MinIO for one test: an embedded store, and the `minio` provider in front of it. */
async function startTarget(): Promise<{
  upstream: TestStorage;
  provider: S3Provider;
  close(): Promise<void>;
}> {
  const upstream = await startTestStorage();
  const provider = new S3Provider(providerOptions(upstream));
  return {
    upstream,
    provider,
    async close() {
      await provider.close();
      await upstream.close();
    },
  };
}

async function assertAllIn(target: StorageProvider, fixtures: Fixture[] = ALL): Promise<void> {
  for (const fixture of fixtures) {
    const found = await target.get(fixture.key);
    assert.ok(found, `${fixture.key} is in the target`);
    const chunks: Buffer[] = [];
    for await (const chunk of found.body) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    assert.equal(bytes.length, fixture.body.length, fixture.key);
    assert.equal(md5(bytes), md5(fixture.body), `${fixture.key}: same bytes`);
    assert.equal(found.info.contentType, fixture.contentType, `${fixture.key}: same content type`);
  }
}

describe('migrating the embedded store into a bucket', () => {
  let source: TestStorage;
  let reader: EmbeddedStoreReader;
  let target: Awaited<ReturnType<typeof startTarget>>;

  before(async () => {
    source = await startTestStorage();
    for (const f of FIXTURES) await source.provider.put(f.key, f.body, { contentType: f.contentType });
    await uploadMultipart(source, MULTIPART, 6 * MiB);
    assert.match((await source.provider.head(MULTIPART.key))!.etag, /-3"$/, 'a multipart object');
    // Read from disk while the store keeps running, as the command does beside a running Skyvault.
    reader = EmbeddedStoreReader.open(source.root)!;
    target = await startTarget();
  });
  after(async () => {
    reader?.close();
    await target?.close();
    await source?.close();
  });

  const migrate = (to: S3Provider, options: MigrationOptions = {}) => migrateObjects(reader, to, options);

  it('finds no embedded store where there is none', () => {
    assert.equal(EmbeddedStoreReader.open(path.join(tempDir(), 'objects')), undefined);
  });

  it('compares in a dry run, and copies nothing', async () => {
    const result = await migrate(target.provider, { dryRun: true });
    assert.equal(result.dryRun, true);
    assert.deepEqual(result.total, { objects: ALL.length, bytes: TOTAL_BYTES });
    assert.equal(result.copied, ALL.length, 'everything would be copied');
    assert.equal(result.bytesCopied, TOTAL_BYTES);
    assert.equal(result.skipped, 0);
    assert.deepEqual((await target.provider.list('')).objects, [], 'nothing was copied');
  });

  it('copies every object with its bytes and content type, N at a time, with progress', async () => {
    const seen: number[] = [];
    const result = await migrate(target.provider, {
      concurrency: 3,
      onProgress: (p) => seen.push(p.done),
    });
    assert.deepEqual(result.failures, []);
    assert.equal(result.copied, ALL.length);
    assert.equal(result.skipped, 0);
    assert.equal(result.bytesCopied, TOTAL_BYTES);
    assert.equal(seen.at(-1), ALL.length, 'progress reaches the end');
    await assertAllIn(target.provider);
    const copied = await target.provider.head(MULTIPART.key);
    assert.match(copied!.etag, /-3"$/);
    assert.notEqual(copied!.etag, (await source.provider.head(MULTIPART.key))!.etag, 'other part sizes');
  });

  it('copies nothing the second time: everything is already there', async () => {
    const result = await migrate(target.provider);
    assert.equal(result.copied, 0);
    assert.equal(result.skipped, ALL.length);
    assert.equal(result.failed, 0);
    const dry = await migrate(target.provider, { dryRun: true });
    assert.equal(dry.copied, 0);
    assert.equal(dry.skipped, ALL.length);
  });

  it('replaces a target object that has other bytes under the same key (the source is the truth)', async () => {
    const [photo, , , unicode] = FIXTURES;
    // Same size, other bytes: only the content tells them apart. And another size.
    await target.provider.put(photo!.key, randomBytes(photo!.body.length), { contentType: 'image/jpeg' });
    await target.provider.put(unicode!.key, Buffer.from('not the photo'), { contentType: 'image/jpeg' });
    const result = await migrate(target.provider);
    assert.equal(result.copied, 2);
    assert.equal(result.replaced, 2);
    assert.equal(result.skipped, ALL.length - 2);
    await assertAllIn(target.provider);
  });

  it('resumes an interrupted run: the next run copies only what is missing', async () => {
    const fresh = await startTarget();
    try {
      const stop = new AbortController();
      const first = await migrate(fresh.provider, {
        concurrency: 1,
        signal: stop.signal,
        onProgress: (p) => {
          if (p.done >= 3) stop.abort();
        },
      });
      assert.equal(first.aborted, true);
      assert.equal(first.copied, 3);
      assert.equal((await fresh.provider.list('')).objects.length, 3);

      const second = await migrate(fresh.provider);
      assert.equal(second.aborted, false);
      assert.equal(second.skipped, 3);
      assert.equal(second.copied, ALL.length - 3);
      await assertAllIn(fresh.provider);
    } finally {
      await fresh.close();
    }
  });

  it('cancels a copy in flight when stopped, leaving nothing partial in the target', async () => {
    const fresh = await startTarget();
    const stop = new AbortController();
    // The target stops the run once 6 MiB of the multipart object are on their way.
    class Interrupting extends S3Provider {
      override async put(key: string, body: Readable | Buffer, options?: { contentType?: string }) {
        if (Buffer.isBuffer(body)) return super.put(key, body, options);
        let sent = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            sent += chunk.length;
            if (sent > 6 * MiB) stop.abort();
            callback(null, chunk);
          },
        });
        return super.put(
          key,
          pipeline(body, counter, () => {}),
          options,
        );
      }
    }
    const interrupting = new Interrupting(providerOptions(fresh.upstream));
    try {
      const result = await migrateObjects(reader, interrupting, { concurrency: 1, signal: stop.signal });
      assert.equal(result.aborted, true);
      assert.equal(result.failed, 0, 'a cancelled copy is not a failure');
      assert.equal(await fresh.provider.head(MULTIPART.key), undefined, 'no partial object');
      assert.deepEqual(fresh.upstream.provider.store.listUploads(''), [], 'the multipart upload was aborted');

      const again = await migrate(fresh.provider);
      assert.equal(again.failed, 0);
      assert.equal(again.copied + again.skipped, ALL.length);
      await assertAllIn(fresh.provider);
    } finally {
      await interrupting.close();
      await fresh.close();
    }
  });

  it('checks each copy: bytes that arrive changed are a failure, one sentence per object', async () => {
    const fresh = await startTarget();
    // A target that flips the first byte of what it stores.
    class Corrupting extends S3Provider {
      override async put(key: string, body: Readable | Buffer, options?: { contentType?: string }) {
        let first = true;
        const flip = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            if (first && chunk.length > 0) {
              first = false;
              chunk = Buffer.from(chunk);
              chunk[0] = chunk[0]! ^ 0xff;
            }
            callback(null, chunk);
          },
        });
        const stream = Buffer.isBuffer(body) ? Readable.from([body]) : body;
        return super.put(
          key,
          pipeline(stream, flip, () => {}),
          options,
        );
      }
    }
    const corrupting = new Corrupting(providerOptions(fresh.upstream));
    try {
      const result = await migrateObjects(reader, corrupting);
      const nonEmpty = ALL.filter((f) => f.body.length > 0).length;
      assert.equal(result.failed, nonEmpty, 'every object with bytes, the empty one is fine');
      for (const failure of result.failures) {
        assert.match(failure.reason, /^differs in the target after the copy \(MD5 [0-9a-f]{32}, expected/);
      }
    } finally {
      await corrupting.close();
      await fresh.close();
    }
  });

  it('verifies by reading back where the target’s ETags are not MD5s (SSE-KMS), and skips the same way', async () => {
    const fresh = await startTarget();
    const opaque = (info: ObjectInfo): ObjectInfo => ({
      ...info,
      etag: `"${createHash('sha256').update(info.etag).digest('hex').slice(0, 32)}"`,
    });
    class OpaqueEtags extends S3Provider {
      override async head(key: string) {
        const info = await super.head(key);
        return info && opaque(info);
      }
      override async list(prefix: string, options?: { after?: string; limit?: number }) {
        const page = await super.list(prefix, options);
        return { ...page, objects: page.objects.map(opaque) };
      }
    }
    const target = new OpaqueEtags(providerOptions(fresh.upstream));
    try {
      const first = await migrateObjects(reader, target);
      assert.deepEqual(first.failures, []);
      assert.equal(first.copied, ALL.length);
      const second = await migrateObjects(reader, target);
      assert.equal(second.skipped, ALL.length, 'the same bytes, read back');
      await assertAllIn(fresh.provider);
    } finally {
      await target.close();
      await fresh.close();
    }
  });
});

describe('migrating the embedded store into Aliyun OSS (the `ali` provider against the embedded store)', () => {
  let source: TestStorage;
  let reader: EmbeddedStoreReader;
  let upstream: TestStorage;
  let target: AliProvider;

  before(async () => {
    source = await startTestStorage();
    for (const f of FIXTURES) await source.provider.put(f.key, f.body, { contentType: f.contentType });
    await uploadMultipart(source, MULTIPART, 6 * MiB);
    reader = EmbeddedStoreReader.open(source.root)!;
    upstream = await startTestStorage({ region: 'cn-hangzhou' });
    const endpoint = upstream.endpoint.replace('127.0.0.1', 'localhost');
    target = new AliProvider({
      endpoint,
      publicEndpoint: undefined,
      stsEndpoint: endpoint,
      bucket: BUCKET,
      region: 'cn-hangzhou',
      accessKey: ROOT_CREDENTIALS.accessKey,
      secretKey: ROOT_CREDENTIALS.secretKey,
      roleArn: 'acs:ram::1234567890123456:role/skyvault-devices',
      logger: createLogger('silent'),
    });
  });
  after(async () => {
    reader?.close();
    await target?.close();
    await upstream?.close();
    await source?.close();
  });

  it('copies every object, a multipart one as one PutObject, and skips them all the second time', async () => {
    const first = await migrateObjects(reader, target, { concurrency: 2 });
    assert.deepEqual(first.failures, []);
    assert.equal(first.copied, ALL.length);
    await assertAllIn(target);
    // OSS's ETag of a single PutObject is the bytes' MD5, which the skip rule recognises.
    const copied = await target.head(MULTIPART.key);
    assert.equal(copied!.etag, `"${md5(MULTIPART.body)}"`);
    const second = await migrateObjects(reader, target);
    assert.equal(second.copied, 0);
    assert.equal(second.skipped, ALL.length);
    assert.equal(second.failed, 0);
  });
});

describe('reading the embedded store while it is written to', () => {
  let source: TestStorage;
  let reader: EmbeddedStoreReader;
  before(async () => {
    source = await startTestStorage();
    reader = EmbeddedStoreReader.open(source.root)!;
  });
  after(async () => {
    reader?.close();
    await source?.close();
  });

  it('reads the version it opened, even when the object is replaced meanwhile', async () => {
    await source.provider.put('ws/media/a.txt', Buffer.from('first version'), { contentType: 'text/plain' });
    const opened = await reader.open('ws/media/a.txt');
    await source.provider.put('ws/media/a.txt', Buffer.from('second version'));
    await sleep(50); // the replaced blob is unlinked right after the commit
    assert.equal(await text(opened!.body), 'first version');
    assert.equal(await text((await reader.open('ws/media/a.txt'))!.body), 'second version');
  });

  it('gives a multipart object whole or not at all: replaced mid-read is SourceChangedError', async () => {
    const fixture = { key: 'ws/media/clip.MP4', body: randomBytes(11 * MiB), contentType: 'video/mp4' };
    await uploadMultipart(source, fixture, 5 * MiB);
    const opened = await reader.open(fixture.key);
    await source.provider.put(fixture.key, Buffer.from('replaced'));
    await sleep(50);
    await assert.rejects(
      (async () => {
        for await (const _chunk of opened!.body);
      })(),
      SourceChangedError,
    );
    await source.provider.delete(fixture.key);
    assert.equal(await reader.open(fixture.key), undefined, 'deleted: gone');
  });

  it('never copies bytes that do not match the index, and says so', async () => {
    const body = Buffer.from(`a blob that will be damaged ${randomBytes(8).toString('hex')}`);
    await source.provider.put('ws/media/damaged.jpg', body, { contentType: 'image/jpeg' });
    await source.provider.put('ws/media/fine.jpg', Buffer.from('fine'), { contentType: 'image/jpeg' });
    const blobs = path.join(source.root, 'blobs');
    const file = readdirSync(blobs, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name))
      .find((f) => readFileSync(f).equals(body));
    assert.ok(file, 'the blob file');
    const damaged = Buffer.from(body);
    damaged[0] = damaged[0]! ^ 0xff;
    writeFileSync(file, damaged);

    const target = await startTarget();
    try {
      const result = await migrateObjects(reader, target.provider);
      assert.equal(result.failed, 1);
      assert.equal(result.failures[0]!.key, 'ws/media/damaged.jpg');
      assert.match(result.failures[0]!.reason, /damaged or missing blob file/);
      assert.equal(await target.provider.head('ws/media/damaged.jpg'), undefined, 'not copied');
      assert.equal((await target.provider.head('ws/media/fine.jpg'))?.size, 4, 'the others are');
    } finally {
      await target.close();
    }
  });
});
