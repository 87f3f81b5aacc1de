import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { djiPhoto } from '../../src/simulate/dji-photo.ts';
import { testDialects } from '../helpers/databases.ts';
import { type TestPilot, testPilot } from '../helpers/pilot.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

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
