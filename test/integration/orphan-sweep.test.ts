/**
 * The embedded store's housekeeping (issue 14, item 6): the orphan sweep removes blob files that no
 * index row names once they are old enough, and a backup's hold keeps every blob a snapshot may name on
 * disk until the backup ends.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/shared/logger.ts';
import { LocalStorageProvider } from '../../src/storage/local/local.provider.ts';
import { HOLD_TTL_MS, ObjectStore, StoreIndex } from '../../src/storage/local/object-store.ts';
import { tempDir } from '../helpers/test-app.ts';

const HOUR = 3600_000;

function stage(store: ObjectStore, bytes: Buffer) {
  const tmpPath = store.tmpPath();
  writeFileSync(tmpPath, bytes);
  return { tmpPath, size: bytes.length, md5Hex: createHash('md5').update(bytes).digest('hex') };
}

async function put(store: ObjectStore, key: string, bytes: Buffer) {
  return store.putObject(key, stage(store, bytes), 'application/octet-stream', Date.now());
}

async function readBack(store: ObjectStore, key: string): Promise<string | undefined> {
  const object = await store.read(key);
  return object && (await text(object.body));
}

/** Every blob file under `<root>/blobs`. */
function blobFiles(root: string): string[] {
  const blobs = path.join(root, 'blobs');
  return readdirSync(blobs).flatMap((dir) =>
    readdirSync(path.join(blobs, dir)).map((f) => path.join(blobs, dir, f)),
  );
}

/** A blob file no index row names, as a crash between rename and commit leaves, `ageMs` old. */
function strayBlob(root: string, bytes: number, ageMs: number): string {
  const id = randomUUID();
  const file = path.join(root, 'blobs', id.slice(0, 2), id);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, randomBytes(bytes));
  const when = new Date(Date.now() - ageMs);
  utimesSync(file, when, when);
  return file;
}

function age(files: string[], ageMs: number) {
  const when = new Date(Date.now() - ageMs);
  for (const file of files) utimesSync(file, when, when);
}

describe('the embedded store orphan sweep', () => {
  it('removes old blob files no index row names, and keeps fresh ones and every real object', async (t) => {
    const root = path.join(tempDir(), 'objects');
    const store = new ObjectStore(root);
    t.after(() => store.close());
    for (let i = 0; i < 5; i++) await put(store, `ws/media/photo-${i}.jpg`, Buffer.from(`photo ${i}`));
    await put(store, 'ws/media/photo-0.jpg', Buffer.from('photo 0, second version'));
    // A multipart upload in progress: its part is referenced by the parts table only.
    const uploadId = store.createUpload('ws/media/video.mp4', 'video/mp4', Date.now());
    const part = await store.putPart(uploadId, 1, stage(store, Buffer.from('part one')), Date.now());
    assert.ok(part);
    // The real blobs are as old as the strays: only the index tells them apart.
    age(blobFiles(root), 2 * HOUR);
    const old = strayBlob(root, 1234, 2 * HOUR);
    const fresh = strayBlob(root, 99, 60_000);

    const result = await store.sweepOrphans({ olderThanMs: HOUR });

    assert.deepEqual(result, { files: 1, bytes: 1234 });
    assert.equal(existsSync(old), false);
    assert.equal(existsSync(fresh), true, 'younger than the grace period: maybe an upload being committed');
    assert.equal(await readBack(store, 'ws/media/photo-0.jpg'), 'photo 0, second version');
    for (let i = 1; i < 5; i++) assert.equal(await readBack(store, `ws/media/photo-${i}.jpg`), `photo ${i}`);
    const done = store.completeUpload(uploadId, [part], '"x-1"', Date.now());
    assert.equal(done?.size, 8);
    assert.equal(await readBack(store, 'ws/media/video.mp4'), 'part one');
    assert.deepEqual(await store.sweepOrphans({ olderThanMs: HOUR }), { files: 0, bytes: 0 });
  });

  it('runs in the background after the embedded store starts, and logs what it removed', async () => {
    const root = path.join(tempDir(), 'objects');
    mkdirSync(path.join(root, 'blobs'), { recursive: true });
    const old = strayBlob(root, 2048, 2 * HOUR);
    let logged = '';
    const provider = new LocalStorageProvider({
      root,
      bucket: 'skyvault',
      region: 'us-east-1',
      secret: 'test-storage-secret',
      host: '127.0.0.1',
      port: 0,
      publicEndpoint: undefined,
      defaultPublicHostname: '127.0.0.1',
      tls: undefined,
      logger: createLogger(
        'info',
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            logged += chunk.toString();
            done();
          },
        }),
      ),
      orphanSweep: { delayMs: 0 },
    });
    await provider.put('ws/media/kept.jpg', Buffer.from('kept'));
    await provider.listen();
    try {
      for (let i = 0; i < 100 && !logged.includes('orphaned'); i++)
        await new Promise((r) => setTimeout(r, 20));
      const line = JSON.parse(logged.split('\n').find((l) => l.includes('orphaned'))!) as Record<
        string,
        unknown
      >;
      assert.equal(line.msg, 'Removed 1 orphaned blob file (2048 bytes) from the object store.');
      assert.equal(line.files, 1);
      assert.equal(line.bytes, 2048);
      assert.equal(existsSync(old), false);
      assert.equal(await readBack(provider.store, 'ws/media/kept.jpg'), 'kept');
    } finally {
      await provider.close();
    }
  });

  it('keeps the blobs a backup may name while its hold lasts, and removes them when it ends', async (t) => {
    const root = path.join(tempDir(), 'objects');
    const store = new ObjectStore(root);
    t.after(() => store.close());
    await put(store, 'a', Buffer.from('a, first'));
    await put(store, 'b', Buffer.from('b'));
    const before = blobFiles(root);
    const index = new StoreIndex(root);
    t.after(() => index.close());
    const hold = index.addHold();

    // What a backup's snapshot taken now names must stay on disk, whatever the store does meanwhile.
    await put(store, 'a', Buffer.from('a, second'));
    store.deleteObject('b');
    for (const file of before) assert.equal(existsSync(file), true, `${file} is kept while the hold lasts`);
    age(blobFiles(root), 2 * HOUR);
    assert.deepEqual(await store.sweepOrphans({ olderThanMs: HOUR }), { files: 0, bytes: 0 });
    for (const file of before) assert.equal(existsSync(file), true, 'the sweep keeps released blobs too');
    assert.equal(index.renewHold(hold), true);

    assert.deepEqual(await index.endHold(hold), { files: 2, bytes: 'a, first'.length + 'b'.length });
    for (const file of before) assert.equal(existsSync(file), false);
    assert.equal(blobFiles(root).length, 1);
    assert.equal(await readBack(store, 'a'), 'a, second');
  });

  it('stops holding once a crashed backup’s hold has expired', async (t) => {
    const root = path.join(tempDir(), 'objects');
    const store = new ObjectStore(root);
    t.after(() => store.close());
    await put(store, 'a', Buffer.from('a, first'));
    const index = new StoreIndex(root);
    t.after(() => index.close());
    const hold = index.addHold(Date.now() - HOLD_TTL_MS - 1);
    await put(store, 'a', Buffer.from('a, second'));
    await new Promise((r) => setTimeout(r, 50)); // the old blob is unlinked after the commit
    assert.equal(blobFiles(root).length, 1, 'the expired hold kept nothing');
    assert.equal(index.renewHold(hold), false, 'an expired hold cannot be renewed');
  });
});
