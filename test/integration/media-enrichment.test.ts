import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import sharp from 'sharp';
import { MediaEnricher, previewKey, thumbnailKey } from '../../src/features/media/media-enricher.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { djiPhoto } from '../../src/simulate/dji-photo.ts';
import { DJI_VIDEO_DURATION_MS, djiVideo } from '../../src/simulate/dji-video.ts';
import type { StorageProvider } from '../../src/storage/provider.ts';
import { testDialects } from '../helpers/databases.ts';
import { type TestPilot, testPilot } from '../helpers/pilot.ts';
import { startLoggedInApp, type TestApp, tempDir } from '../helpers/test-app.ts';

const photo = (seed: number) =>
  djiPhoto({
    latitude: 22.579712,
    longitude: 113.938031,
    absoluteAltitude: 56.31,
    relativeAltitude: 80.1,
    gimbalYawDegree: -35.6,
    capturedAt: new Date('2021-12-02T08:17:08Z'),
    utcOffsetMinutes: 480,
    seed,
  });

/** A stored object's bytes (undefined when it does not exist). */
async function stored(storage: StorageProvider, key: string): Promise<Buffer | undefined> {
  const object = await storage.get(key);
  if (!object) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Width and height of a stored JPEG, after decoding all of it. */
async function jpegSize(storage: StorageProvider, key: string | null): Promise<[number, number]> {
  assert.ok(key, 'a rendition was recorded');
  const bytes = await stored(storage, key);
  assert.ok(bytes, `${key} is in storage`);
  const { info } = await sharp(bytes, { failOn: 'error' }).raw().toBuffer({ resolveWithObject: true });
  assert.equal((await sharp(bytes).metadata()).format, 'jpeg');
  return [info.width, info.height];
}

/**
 * The fixture as a camera writes it, its index (moov) after the media data, with 8 MB between the two:
 * ffmpeg can only make a poster of it by seeking (a pipe would have to be read to the end, then could
 * not go back to the first frame).
 */
function indexLastVideo(): Buffer {
  const dir = tempDir();
  const input = path.join(dir, 'in.mp4');
  const output = path.join(dir, 'out.mp4');
  writeFileSync(input, djiVideo('index last'));
  const made = spawnSync(ffmpegInstaller.path, [
    '-v',
    'error',
    '-i',
    input,
    '-c',
    'copy',
    '-f',
    'mp4',
    output,
  ]);
  assert.equal(made.status, 0, String(made.stderr));
  const video = readFileSync(output);
  rmSync(dir, { recursive: true, force: true });
  let moov = 0;
  while (video.toString('latin1', moov + 4, moov + 8) !== 'moov') moov += video.readUInt32BE(moov);
  assert.ok(moov > video.indexOf('mdat'), 'moov after mdat');
  const padding = Buffer.alloc(8 * 1024 * 1024);
  padding.writeUInt32BE(padding.length, 0);
  padding.write('free', 4, 'latin1');
  return Buffer.concat([video.subarray(0, moov), padding, video.subarray(moov)]);
}

for (const dialect of testDialects()) {
  describe(`media enrichment on ${dialect}`, () => {
    let t: TestApp;
    let token: string;
    let ws: string;
    let pilot: TestPilot;
    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({ dialect }));
      pilot = await testPilot(t, token, ws);
    });
    after(() => t.close());

    const file = async (name: string) => {
      await t.app.enricher.idle();
      const list = (
        await t.inject({
          method: 'GET',
          url: `/media/api/v1/files/${ws}/files?q=${encodeURIComponent(name.split('/').pop()!)}`,
          headers: { 'x-auth-token': token, host: '127.0.0.1' },
        })
      ).json().data.list;
      assert.equal(list.length, 1, name);
      return list[0];
    };

    it('reads capture metadata from EXIF/XMP when the report has none, and makes a thumbnail', async () => {
      assert.equal((await pilot.upload('enrich/DJI_0001.JPG', await photo(1))).code, 0);
      const f = await file('enrich/DJI_0001.JPG');
      assert.equal(f.latitude, 22.579712);
      assert.ok(Math.abs(f.longitude - 113.938031) < 1e-9);
      assert.equal(f.absolute_altitude, 56.31);
      assert.equal(f.relative_altitude, 80.1);
      assert.equal(f.gimbal_yaw_degree, -35.6);
      assert.equal(f.captured_time, '2021-12-02T08:17:08.000Z');
      assert.equal(f.captured_time_raw, '2021-12-02T16:17:08+08:00');
      assert.equal(f.captured_time_local, '2021-12-02T16:17:08+08:00', 'the device’s own zone kept');
      assert.equal(f.captured_time_is_device_local, false);
      assert.match(f.thumbnail_url, /^http:\/\/127\.0\.0\.1:\d+\/skyvault\/.+\/thumbnails\/.+\.jpg\?/);
      const thumbnail = Buffer.from(await (await fetch(f.thumbnail_url)).arrayBuffer());
      const meta = await sharp(thumbnail).metadata();
      assert.equal(meta.format, 'jpeg');
      assert.deepEqual([meta.width, meta.height], [256, 192]);
    });

    const row = (id: string) =>
      t.app.database.db
        .selectFrom('mediaFiles')
        .select(['thumbnailKey', 'previewKey', 'durationMs', 'enrichedAt'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();

    it('makes a preview of at most 1600 px, turned upright as EXIF says, and the thumbnail from it', async () => {
      // 4000 × 3000 pixels, shown turned a quarter (EXIF orientation 6): a 3000 × 4000 portrait.
      const pixels = Buffer.alloc(4000 * 3000 * 3);
      for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 13) & 0xff;
      const portrait = await sharp(pixels, { raw: { width: 4000, height: 3000, channels: 3 } })
        .jpeg({ quality: 80 })
        .withMetadata({ orientation: 6 })
        .toBuffer();
      await pilot.upload('enrich/DJI_0003.JPG', portrait);
      const f = await file('enrich/DJI_0003.JPG');
      const r = await row(f.file_id);
      assert.equal(r.previewKey, previewKey(ws, f.file_id));
      assert.equal(r.thumbnailKey, thumbnailKey(ws, f.file_id));
      assert.deepEqual(await jpegSize(t.app.storage, r.previewKey), [1200, 1600]);
      assert.deepEqual(await jpegSize(t.app.storage, r.thumbnailKey), [192, 256]);
      assert.equal(r.durationMs, null);
      // A small photo is not enlarged.
      const small = await row((await file('enrich/DJI_0001.JPG')).file_id);
      assert.deepEqual(await jpegSize(t.app.storage, small.previewKey), [640, 480]);
    });

    it('makes a poster of a video for its thumbnail and preview, and reads its duration', async () => {
      await pilot.upload('enrich/DJI_0005_V.MP4', djiVideo('enrich 5'), {}, 'video/mp4');
      await pilot.upload('enrich/DJI_0006_V.MP4', indexLastVideo(), {}, 'video/mp4');
      for (const name of ['enrich/DJI_0005_V.MP4', 'enrich/DJI_0006_V.MP4']) {
        const f = await file(name);
        assert.equal(f.media_type, 'video');
        assert.match(f.thumbnail_url, /\/thumbnails\/.+\.jpg\?/, name);
        const r = await row(f.file_id);
        assert.ok(r.enrichedAt, name);
        assert.deepEqual(await jpegSize(t.app.storage, r.thumbnailKey), [256, 144], name);
        assert.deepEqual(await jpegSize(t.app.storage, r.previewKey), [640, 360], name);
        assert.ok(
          r.durationMs !== null && Math.abs(r.durationMs - DJI_VIDEO_DURATION_MS) <= 100,
          `${name}: ${r.durationMs} ms`,
        );
      }
    });

    it('leaves no rendition behind for a file deleted while it was enriched', async () => {
      const put = t.app.storage.put;
      let deleted: string | undefined;
      // The file is deleted (as the library does) just after its renditions are stored.
      t.app.storage.put = async function (this: typeof t.app.storage, key, body, options) {
        const info = await put.call(this, key, body, options);
        const match = /\/previews\/(.+)\.jpg$/.exec(key);
        if (match) {
          deleted = match[1]!;
          const answer = await t.inject({
            method: 'DELETE',
            url: `/media/api/v1/files/${ws}/file/${deleted}`,
            headers: { 'x-auth-token': token },
          });
          assert.equal(answer.json().code, 0);
        }
        return info;
      };
      try {
        await pilot.upload('enrich/DJI_0007_V.MP4', djiVideo('enrich 7'), {}, 'video/mp4');
        await t.app.enricher.idle();
      } finally {
        t.app.storage.put = put;
      }
      assert.ok(deleted, 'renditions were made');
      assert.equal(await t.app.storage.head(thumbnailKey(ws, deleted)), undefined);
      assert.equal(await t.app.storage.head(previewKey(ws, deleted)), undefined);
    });

    it('removes the renditions of a video replaced by one it cannot read', async () => {
      await pilot.upload('enrich/DJI_0008_V.MP4', djiVideo('enrich 8'), {}, 'video/mp4');
      const f = await file('enrich/DJI_0008_V.MP4');
      const before = await row(f.file_id);
      assert.ok(before.thumbnailKey && before.previewKey && before.durationMs);
      await pilot.upload('enrich/DJI_0008_V.MP4', randomBytes(3000), {}, 'video/mp4');
      await t.app.enricher.idle();
      const r = await row(f.file_id);
      assert.deepEqual([r.thumbnailKey, r.previewKey, r.durationMs], [null, null, null]);
      assert.equal(await t.app.storage.head(before.thumbnailKey), undefined);
      assert.equal(await t.app.storage.head(before.previewKey), undefined);
    });

    it('keeps what the device reported and fills only the gaps', async () => {
      await pilot.upload('enrich/DJI_0002.JPG', await photo(2), {
        metadata: { gimbal_yaw_degree: 10, created_time: '2024-01-01T00:00:00Z' },
      });
      const f = await file('enrich/DJI_0002.JPG');
      assert.equal(f.gimbal_yaw_degree, 10);
      assert.equal(f.captured_time, '2024-01-01T00:00:00.000Z');
      assert.equal(f.relative_altitude, 80.1);
    });

    it('survives files it cannot read: videos, sidecars and broken images', async () => {
      await pilot.upload('enrich/clip.mp4', randomBytes(2000), {}, 'video/mp4');
      await pilot.upload('enrich/broken.jpg', randomBytes(2000));
      for (const name of ['enrich/clip.mp4', 'enrich/broken.jpg']) {
        const f = await file(name);
        assert.equal(f.thumbnail_url, null, name);
        assert.equal(f.latitude, null, name);
      }
      const pending = await t.app.database.db
        .selectFrom('mediaFiles')
        .select('id')
        .where('enrichedAt', 'is', null)
        .execute();
      assert.deepEqual(pending, [], 'every file is marked done');
    });

    it("counts a new object's first enrichment start when it records it, and a resumed file's when it claims it", async () => {
      const attemptsOf = async (id: string) =>
        (
          await t.app.database.db
            .selectFrom('mediaFiles')
            .select('enrichmentAttempts')
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
        ).enrichmentAttempts;
      // What the row says each time the enricher opens the object: the start it is working on counted once.
      const get = t.app.storage.get;
      const seen: number[] = [];
      const all = (n: number) => seen.length > 0 && seen.every((m) => m === n);
      // The recording hands the enricher the row it wrote, its start counted (no claim to write again).
      const handed: boolean[] = [];
      const enqueue = t.app.enricher.enqueue;
      t.app.enricher.enqueue = function (this: typeof t.app.enricher, id, claimed) {
        if (claimed?.objectKey === watched || id === watchedId)
          handed.push(claimed?.enrichmentAttempts === 1);
        return enqueue.call(this, id, claimed);
      };
      let watchedId = '';
      let watched = '';
      t.app.storage.get = async function (this: typeof t.app.storage, key, range) {
        if (key === watched) {
          const [found] = await t.app.database.db
            .selectFrom('mediaFiles')
            .select('enrichmentAttempts')
            .where('objectKey', '=', key)
            .execute();
          seen.push(found!.enrichmentAttempts);
        }
        return get.call(this, key, range);
      };
      try {
        watched = `${pilot.credentials.prefix}/enrich/DJI_0010.JPG`;
        const upload = async (bytes: Buffer) => {
          assert.equal((await pilot.upload('enrich/DJI_0010.JPG', bytes)).code, 0);
          await t.app.enricher.idle();
        };
        await upload(await photo(10));
        const f = await file('enrich/DJI_0010.JPG');
        watchedId = f.file_id;
        assert.ok(all(1), `a new file: ${seen.join()}`);
        assert.equal(await attemptsOf(f.file_id), 0, 'done: the count is cleared');
        seen.length = 0;
        await upload(await photo(11));
        assert.ok(all(1), `a new object: ${seen.join()}`);
        assert.deepEqual(handed, [true, true]);
        // A start that never ended (the process died), then a restart: the claim counts the second start.
        await t.app.database.db
          .updateTable('mediaFiles')
          .set({ enrichedAt: null, enrichmentAttempts: 1 })
          .where('id', '=', f.file_id)
          .execute();
        seen.length = 0;
        assert.equal(await t.app.enricher.resume(), 1);
        await t.app.enricher.idle();
        assert.ok(all(2), `resumed: ${seen.join()}`);
        assert.equal(await attemptsOf(f.file_id), 0);
      } finally {
        t.app.storage.get = get;
        t.app.enricher.enqueue = enqueue;
      }
    });

    it('resumes files left unenriched by a restart', async () => {
      const f = await file('enrich/DJI_0001.JPG');
      await t.app.database.db
        .updateTable('mediaFiles')
        .set({ enrichedAt: null, thumbnailKey: null, latitude: null, longitude: null })
        .where('id', '=', f.file_id)
        .execute();
      assert.equal(await t.app.enricher.resume(), 1);
      const again = await file('enrich/DJI_0001.JPG');
      assert.equal(again.latitude, 22.579712);
      assert.ok(again.thumbnail_url);
    });

    it('deletes the thumbnail with the file', async () => {
      const f = await file('enrich/DJI_0002.JPG');
      const row = await t.app.database.db
        .selectFrom('mediaFiles')
        .select('thumbnailKey')
        .where('id', '=', f.file_id)
        .executeTakeFirstOrThrow();
      assert.ok(row.thumbnailKey && (await t.app.storage.head(row.thumbnailKey)));
      await t.inject({
        method: 'DELETE',
        url: `/media/api/v1/files/${ws}/file/${f.file_id}`,
        headers: { 'x-auth-token': token },
      });
      assert.equal(await t.app.storage.head(row.thumbnailKey), undefined);
    });
  });
}

describe('media enrichment without ffmpeg', () => {
  let t: TestApp;
  let token: string;
  let ws: string;
  before(async () => {
    ({ t, token, ws } = await startLoggedInApp({
      env: { SKYVAULT_FFMPEG: '/nonexistent/ffmpeg' },
      captureLogs: true,
    }));
  });
  after(() => t.close());

  it('records and enriches videos without poster or duration, and says why once', async () => {
    const pilot = await testPilot(t, token, ws);
    await pilot.upload('DJI_0001_V.MP4', djiVideo('no ffmpeg 1'), {}, 'video/mp4');
    await pilot.upload('DJI_0002_V.MP4', djiVideo('no ffmpeg 2'), {}, 'video/mp4');
    await t.app.enricher.idle();
    const rows = await t.app.database.db
      .selectFrom('mediaFiles')
      .select(['name', 'mediaType', 'thumbnailKey', 'previewKey', 'durationMs', 'enrichedAt'])
      .orderBy('name')
      .execute();
    assert.deepEqual(
      rows.map((r) => [
        r.name,
        r.mediaType,
        r.thumbnailKey,
        r.previewKey,
        r.durationMs,
        r.enrichedAt !== null,
      ]),
      [
        ['DJI_0001_V.MP4', 'video', null, null, null, true],
        ['DJI_0002_V.MP4', 'video', null, null, null, true],
      ],
    );
    const off = t.logs.map((l) => JSON.parse(l)).filter((l) => /video posters .* off/.test(l.msg));
    assert.equal(off.length, 1, 'said once');
    assert.equal(off[0].level, 30, 'at info');
    assert.equal(off[0].ffmpeg, '/nonexistent/ffmpeg');
    assert.equal(off[0].reason, 'not found');
  });

  it('stops an ffmpeg that takes too long, and records the video without poster', async () => {
    // An "ffmpeg" that answers -version and then never finishes.
    const dir = tempDir();
    after(() => rmSync(dir, { recursive: true, force: true }));
    const hung = path.join(dir, 'ffmpeg');
    writeFileSync(
      hung,
      '#!/bin/sh\n[ "$2" = -version ] && echo "ffmpeg version hung" && exit 0\nexec sleep 60\n',
    );
    chmodSync(hung, 0o755);
    const lines: string[] = [];
    const enricher = new MediaEnricher({
      repo: t.app.repos.media,
      storage: t.app.storage,
      logger: createLogger(
        'info',
        new Writable({
          write(chunk, _encoding, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      ),
      ffmpegPath: hung,
      ffmpegTimeoutMs: 300,
    });
    await t.app.database.db.updateTable('mediaFiles').set({ enrichedAt: null }).execute();
    const started = Date.now();
    assert.equal(await enricher.resume(), 2);
    await enricher.idle();
    assert.ok(Date.now() - started < 10_000, `stopped after ${Date.now() - started} ms`);
    const stopped = lines.map((l) => JSON.parse(l)).filter((l) => /ffmpeg took too long/.test(l.msg));
    assert.equal(stopped.length, 2);
    const pending = await t.app.database.db
      .selectFrom('mediaFiles')
      .select(['thumbnailKey', 'previewKey'])
      .where((eb) => eb.or([eb('enrichedAt', 'is', null), eb('thumbnailKey', 'is not', null)]))
      .execute();
    assert.deepEqual(pending, [], 'done, without renditions');
    await enricher.close();
  });
});

describe('media enrichment of a large backlog', () => {
  it('takes every file of a backlog once, in order, well past its queue compaction', async () => {
    const { t, ws } = await startLoggedInApp();
    after(() => t.close());
    const files = 2500;
    // Files the server died on three times: each is closed as failed without opening storage, so the
    // queue's own bookkeeping is what this measures.
    const rows = Array.from({ length: files }, (_, i) => ({
      id: `backlog-${String(i).padStart(5, '0')}`,
      workspaceId: ws,
      objectKey: `${ws}/media/backlog/${i}.jpg`,
      name: `${i}.jpg`,
      path: '',
      source: 'pilot' as const,
      mediaType: 'image' as const,
      isOriginal: 1,
      size: 1,
      contentType: 'image/jpeg',
      etag: `e${i}`,
      enrichmentAttempts: 3,
      createdAt: i,
      updatedAt: i,
    }));
    for (let i = 0; i < files; i += 500)
      await t.app.database.db
        .insertInto('mediaFiles')
        .values(rows.slice(i, i + 500))
        .execute();
    const order: string[] = [];
    const enricher = new MediaEnricher({
      repo: t.app.repos.media,
      storage: t.app.storage,
      logger: createLogger(
        'warn',
        new Writable({
          write(chunk, _encoding, done) {
            const line = JSON.parse(String(chunk)) as { fileId?: string };
            if (line.fileId) order.push(line.fileId);
            done();
          },
        }),
      ),
    });
    assert.equal(await enricher.resume(), files);
    assert.equal(enricher.backlog, files);
    await enricher.idle();
    assert.equal(enricher.backlog, 0);
    assert.deepEqual(
      order,
      rows.map((r) => r.id),
      'each file once, oldest first',
    );
    const left = await t.app.database.db
      .selectFrom('mediaFiles')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('enrichedAt', 'is', null)
      .executeTakeFirstOrThrow();
    assert.equal(Number(left.n), 0);
    await enricher.close();
  });
});
