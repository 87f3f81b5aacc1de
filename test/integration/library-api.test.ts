/**
 * The web library's API (/api/v1, docs/web-api.md) over real HTTP handling, on SQLite and PostgreSQL:
 * cursor pages, filters, facets, map clusters, detail links, delete, file groups. Files are recorded
 * through the media repository (a few hundred, quickly) and through real upload reports; every answer
 * is checked against a brute-force reading of media_files, so the kept counts, kept map cells and text
 * indexes of migration 0007 are checked against the rows they summarize.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaType } from '../../src/db/schema.ts';
import type { MediaFile, NewMediaFile } from '../../src/features/media/media.repo.ts';
import { newId } from '../../src/shared/ids.ts';
import { testDialects } from '../helpers/databases.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

const T0 = Date.parse('2025-01-01T00:00:00Z');
const HOUR = 3_600_000;
const TYPES: MediaType[] = ['image', 'video', 'other'];
const DRONES = ['DRONE-A', 'DRONE-B', 'DRONE-C', null];
/** A lonely file, alone in its cell at every level. */
const LONELY = { latitude: -45.5, longitude: -120.25 };

interface Item {
  id: string;
  name: string;
  taken_at: number;
  drone_sn: string | null;
  media_type: MediaType;
  file_group_id: string | null;
  thumbnail_url: string | null;
}

for (const dialect of testDialects()) {
  describe(`web library API on ${dialect}`, () => {
    let t: TestApp;
    let token: string;
    let ws: string;
    let stranger: string;

    const request = (method: 'GET' | 'DELETE', url: string, payload?: unknown, auth = token) =>
      t.inject({
        method,
        url,
        headers: { 'x-auth-token': auth, host: '127.0.0.1' },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
    const get = async (url: string) => {
      const response = await request('GET', url);
      const body = response.json();
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
      assert.equal(body.code, 0);
      return body.data;
    };
    /** Every file of the workspace as media_files holds it: what each answer is checked against. */
    const rows = (): Promise<MediaFile[]> =>
      t.app.database.db.selectFrom('mediaFiles').selectAll().where('workspaceId', '=', ws).execute();
    const newestFirst = (a: MediaFile, b: MediaFile) =>
      b.takenAt - a.takenAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    /** Walks every page of a listing; returns the ids in the order served. */
    const walk = async (query: string, limit = 500) => {
      const ids: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: Item[]; next_cursor: string | null } = await get(
          `/api/v1/workspaces/${ws}/media?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`,
        );
        assert.ok(page.items.length <= limit);
        if (page.next_cursor !== null) assert.equal(page.items.length, limit, 'only the last page is short');
        ids.push(...page.items.map((i) => i.id));
        cursor = page.next_cursor;
        assert.ok(++pages < 1000, 'the walk ends');
      } while (cursor);
      return ids;
    };
    const expectedIds = async (keep: (f: MediaFile) => boolean) =>
      (await rows())
        .filter(keep)
        .sort(newestFirst)
        .map((f) => f.id);

    const file = (i: number, extra: Partial<NewMediaFile> = {}): NewMediaFile => {
      const geotagged = i % 5 !== 0;
      // Two sites, and a third file in four at the same capture time as its neighbours (ties on taken_at).
      const site = i % 2 === 0 ? { lat: 22.5, lon: 113.9 } : { lat: 48.1, lon: 11.5 };
      return {
        id: newId(),
        workspaceId: ws,
        objectKey: `${ws}/media/seed/${i}.bin`,
        name: `DJI_20250101${String(i % 24).padStart(2, '0')}0000_${String(i).padStart(4, '0')}_V.JPG`,
        path: i % 17 === 0 ? 'Survey North' : '',
        source: 'pilot',
        mediaType: TYPES[i % 3]!,
        isOriginal: 1,
        size: 100 + i,
        contentType: 'image/jpeg',
        etag: `"e${i}"`,
        fingerprint: null,
        tinyFingerprint: null,
        subFileType: null,
        fileGroupId: i % 10 === 3 ? 'g-a' : i % 10 === 7 ? 'g-b' : null,
        droneSn: DRONES[i % 4]!,
        droneModelKey: i % 4 === 0 ? '0-67-0' : null,
        payloadModelKey: '1-53-0',
        latitude: geotagged ? site.lat + (i % 13) * 0.0007 : null,
        longitude: geotagged ? site.lon + (i % 11) * 0.0009 : null,
        absoluteAltitude: null,
        relativeAltitude: null,
        gimbalYawDegree: null,
        capturedAt: i % 6 === 5 ? null : T0 + Math.floor(i / 3) * HOUR,
        capturedAtRaw: null,
        createdAt: T0 + 1000 * HOUR + i * 1000,
        updatedAt: T0,
        ...extra,
      };
    };
    /** Records a file as a device report would: the object in storage, then upload-callback. */
    const upload = async (name: string, report: Record<string, unknown> = {}) => {
      const key = `${ws}/media/up/${name}`;
      await t.app.storage.put(key, Buffer.from(`bytes of ${name}`), { contentType: 'image/jpeg' });
      const response = await t.inject({
        method: 'POST',
        url: `/media/api/v1/workspaces/${ws}/upload-callback`,
        headers: { 'x-auth-token': token },
        payload: { result: 0, name, path: '', object_key: key, ...report },
      });
      assert.equal(response.json().code, 0, response.body);
      // Enrichment writes to the row in the background: let it finish before the test looks.
      await t.app.enricher.idle();
      return (await t.app.repos.media.findByObjectKey(ws, key))!;
    };

    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({ dialect }));
      for (let i = 0; i < 240; i++) await t.app.repos.media.upsertByObjectKey(file(i));
      await t.app.repos.media.upsertByObjectKey(
        file(999, { ...LONELY, name: 'LONELY.JPG', objectKey: `${ws}/media/seed/lonely.bin` }),
      );
      const other = await createWorkspace(t.app.database.db);
      await createUser(t.app.database.db, other, `lib-api-${dialect}`, 'pw-lib-api');
      stranger = (await t.login(`lib-api-${dialect}`, 'pw-lib-api')).access_token;
      // A file of the other workspace: never in this one's answers.
      await t.app.repos.media.upsertByObjectKey({
        ...file(5000),
        workspaceId: other,
        objectKey: `${other}/media/x.bin`,
        name: 'DJI_20250101000000_9999_V.JPG',
      });
    });
    after(() => t.close());

    it('walks every file once, newest taken_at first, across cursor pages', async () => {
      const expected = await expectedIds(() => true);
      assert.equal(expected.length, 241);
      assert.deepEqual(await walk('', 17), expected);
      assert.deepEqual(await walk('', 500), expected);
      const first: { items: Item[]; next_cursor: string | null } = await get(
        `/api/v1/workspaces/${ws}/media`,
      );
      assert.equal(first.items.length, 100, 'default limit');
      assert.equal(first.items[0]!.taken_at, Math.max(...(await rows()).map((f) => f.takenAt)));
    });

    it('filters by device, type, time window, group and text, alone and together', async () => {
      const from = T0 + 10 * HOUR;
      const to = T0 + 30 * HOUR;
      const cases: [string, (f: MediaFile) => boolean][] = [
        ['&device_sn=DRONE-B', (f) => f.droneSn === 'DRONE-B'],
        ['&type=video', (f) => f.mediaType === 'video'],
        [`&from=${from}&to=${to}`, (f) => f.takenAt >= from && f.takenAt <= to],
        [`&from=${from}`, (f) => f.takenAt >= from],
        ['&group=g-a', (f) => f.fileGroupId === 'g-a'],
        ['&q=survey', (f) => f.path === 'Survey North'],
        ['&q=dji_2025010105', (f) => f.name.toLowerCase().includes('dji_2025010105')],
        ['&q=0042_v', (f) => f.name.toLowerCase().includes('0042_v')],
        ['&q=12', (f) => f.name.includes('12')],
        ['&q=n', (f) => /n/i.test(f.name) || /n/i.test(f.path)],
        ['&q=nothing-like-it', () => false],
        [
          `&device_sn=DRONE-A&type=image&from=${from}`,
          (f) => f.droneSn === 'DRONE-A' && f.mediaType === 'image' && f.takenAt >= from,
        ],
        ['&group=g-b&q=_v.jpg', (f) => f.fileGroupId === 'g-b'],
      ];
      for (const [query, keep] of cases) {
        const expected = await expectedIds(keep);
        assert.deepEqual(await walk(query, 7), expected, query);
      }
      assert.ok((await expectedIds((f) => f.name.includes('12'))).length > 0, 'the short text matches some');
    });

    it('answers facets that match a brute-force count, each leaving out its own filter', async () => {
      const check = async (
        query: string,
        keep: (f: MediaFile) => boolean,
        device?: string,
        type?: string,
      ) => {
        const all = (await rows()).filter(keep);
        const facets = await get(`/api/v1/workspaces/${ws}/media/facets?x=1${query}`);
        const matching = all.filter(
          (f) => (!device || f.droneSn === device) && (!type || f.mediaType === type),
        );
        assert.equal(facets.total, matching.length, `${query}: total`);
        assert.equal(facets.total_exact, true);
        assert.deepEqual(
          facets.types,
          TYPES.map((ty) => ({
            type: ty,
            count: all.filter((f) => (!device || f.droneSn === device) && f.mediaType === ty).length,
          })),
          `${query}: types`,
        );
        const perDevice = new Map<string | null, number>();
        for (const f of all.filter((f) => !type || f.mediaType === type)) {
          perDevice.set(f.droneSn, (perDevice.get(f.droneSn) ?? 0) + 1);
        }
        assert.deepEqual(
          Object.fromEntries(
            facets.devices.map((d: { device_sn: string | null; count: number }) => [d.device_sn, d.count]),
          ),
          Object.fromEntries(perDevice),
          `${query}: devices`,
        );
        return facets;
      };
      const facets = await check('', () => true);
      assert.equal(facets.total, 241);
      const a = facets.devices.find((d: { device_sn: string }) => d.device_sn === 'DRONE-A');
      assert.equal(a.name, 'Matrice 30', 'the device dictionary names the aircraft');
      await check('&device_sn=DRONE-A', () => true, 'DRONE-A');
      await check('&type=other&device_sn=DRONE-C', () => true, 'DRONE-C', 'other');
      const from = T0 + 20 * HOUR;
      await check(`&from=${from}`, (f) => f.takenAt >= from);
      await check(`&from=${from}&type=video`, (f) => f.takenAt >= from, undefined, 'video');
      await check('&group=g-b', (f) => f.fileGroupId === 'g-b');
      await check('&q=survey&device_sn=DRONE-B', (f) => f.path === 'Survey North', 'DRONE-B');
    });

    it('keeps counts and map cells right through inserts, re-uploads that change them, and deletes', async () => {
      const consistent = async (label: string) => {
        const all = await rows();
        const facets = await get(`/api/v1/workspaces/${ws}/media/facets`);
        assert.equal(facets.total, all.length, `${label}: total`);
        for (const { type, count } of facets.types) {
          assert.equal(count, all.filter((f) => f.mediaType === type).length, `${label}: ${type}`);
        }
        for (const { device_sn, count } of facets.devices) {
          assert.equal(count, all.filter((f) => f.droneSn === device_sn).length, `${label}: ${device_sn}`);
        }
        for (const [query, keep] of [
          ['', () => true],
          ['&device_sn=DRONE-B', (f: MediaFile) => f.droneSn === 'DRONE-B'],
          [
            '&type=image&device_sn=DRONE-D',
            (f: MediaFile) => f.mediaType === 'image' && f.droneSn === 'DRONE-D',
          ],
        ] as const) {
          const dji = await get(`/media/api/v1/files/${ws}/files?page_size=1${query}`);
          assert.equal(dji.pagination.total, all.filter(keep).length, `${label}: DJI total ${query}`);
        }
        const map = await get(`/api/v1/workspaces/${ws}/media/map?zoom=3`);
        const geotagged = all.filter((f) => f.latitude !== null && f.longitude !== null);
        assert.equal(
          map.clusters.reduce((n: number, c: { count: number }) => n + c.count, 0),
          geotagged.length,
          `${label}: map`,
        );
        for (const cluster of map.clusters) {
          assert.ok(
            geotagged.some((f) => f.id === cluster.file_id),
            `${label}: a cluster names one of its files`,
          );
        }
      };
      await consistent('seeded');
      const added = await upload('DJI_NEW_0001.JPG', { ext: { sn: 'DRONE-D' } });
      await consistent('after an upload');
      // Re-upload of the same object, changed: another aircraft, another type, now geotagged.
      const key = added.objectKey;
      await t.app.storage.put(key, Buffer.from('new bytes'), { contentType: 'video/mp4' });
      const again = await t.inject({
        method: 'POST',
        url: `/media/api/v1/workspaces/${ws}/upload-callback`,
        headers: { 'x-auth-token': token },
        payload: {
          result: 0,
          name: 'DJI_NEW_0001.MP4',
          path: '',
          object_key: key,
          ext: { sn: 'DRONE-E' },
          metadata: { shoot_position: { lat: 10.5, lng: 20.5 } },
        },
      });
      assert.equal(again.json().code, 0, again.body);
      await t.app.enricher.idle();
      const changed = (await t.app.repos.media.findById(ws, added.id))!;
      assert.equal(changed.droneSn, 'DRONE-E');
      assert.equal(changed.mediaType, 'video');
      await consistent('after a re-upload');
      // Enrichment moving a file on the map.
      const moved = (await rows()).find((f) => f.latitude !== null)!;
      await t.app.repos.media.saveEnrichment(
        moved.id,
        moved.etag,
        { latitude: -10.25, longitude: 30.75 },
        T0,
      );
      await consistent('after a move');
      const gone = (await rows()).filter((_, i) => i % 9 === 0).map((f) => f.id);
      const deleted = await request('DELETE', `/api/v1/workspaces/${ws}/media`, {
        file_ids: [...gone, 'nope'],
      });
      assert.deepEqual(deleted.json().data.deleted.sort(), [...gone].sort());
      await consistent('after deletes');
      assert.deepEqual(await walk('', 50), await expectedIds(() => true));
      assert.deepEqual(
        await walk('&q=dji_2025', 50),
        await expectedIds((f) => f.name.toLowerCase().includes('dji_2025')),
      );
    });

    it('clusters geotagged files on the map: sums, single files, filters, close zooms', async () => {
      const all = (await rows()).filter((f) => f.latitude !== null && f.longitude !== null);
      const sum = (clusters: { count: number }[]) => clusters.reduce((n, c) => n + c.count, 0);
      const world = await get(`/api/v1/workspaces/${ws}/media/map?zoom=3`);
      assert.equal(world.exact, true);
      assert.equal(sum(world.clusters), all.length);
      const lonely = all.find((f) => f.name === 'LONELY.JPG')!;
      const single = world.clusters.find((c: { file_id: string }) => c.file_id === lonely.id);
      assert.deepEqual(single, { ...LONELY, count: 1, file_id: lonely.id });

      // A cell whose sample file is deleted names its other file.
      const [first, second] = [newId(), newId()].sort();
      for (const [i, id] of [first!, second!].entries()) {
        await t.app.repos.media.upsertByObjectKey(
          file(3000 + i, {
            id,
            objectKey: `${ws}/media/pair/${i}`,
            latitude: 60.5 + i * 0.1,
            longitude: 60.5,
            // Same aircraft and type: one kept row per level, whose sample must move to the other file.
            droneSn: 'DRONE-P',
            mediaType: 'image',
          }),
        );
      }
      const pair = async () =>
        (await get(`/api/v1/workspaces/${ws}/media/map?zoom=3&bbox=56,56,65,65`)).clusters as {
          count: number;
          file_id: string;
        }[];
      assert.deepEqual(
        (await pair()).map((c) => [c.count, c.file_id]),
        [[2, second]],
      );
      await request('DELETE', `/api/v1/workspaces/${ws}/media`, { file_ids: [second] });
      assert.deepEqual(
        (await pair()).map((c) => [c.count, c.file_id]),
        [[1, first]],
      );

      // Zoomed in past the kept levels: clustered now, inside the box only.
      const box = { west: 113.9, south: 22.5, east: 113.905, north: 22.505 };
      const inBox = (await rows()).filter(
        (f) =>
          f.latitude !== null &&
          f.longitude !== null &&
          f.latitude >= box.south &&
          f.latitude <= box.north &&
          f.longitude >= box.west &&
          f.longitude <= box.east,
      );
      const close = await get(
        `/api/v1/workspaces/${ws}/media/map?zoom=18&bbox=${box.west},${box.south},${box.east},${box.north}`,
      );
      assert.equal(sum(close.clusters), inBox.length);
      assert.ok(close.clusters.length > 1, 'split into several cells at that zoom');
      assert.ok(close.cell_degrees < 0.001);

      // By aircraft and type: the kept cells hold them too; by time: clustered now.
      const geotagged = (await rows()).filter((f) => f.latitude !== null && f.longitude !== null);
      for (const [query, keep] of [
        [
          'zoom=5&device_sn=DRONE-B&type=image',
          (f: MediaFile) => f.droneSn === 'DRONE-B' && f.mediaType === 'image',
        ],
        ['zoom=5&type=video', (f: MediaFile) => f.mediaType === 'video'],
        [`zoom=5&from=${T0 + 20 * HOUR}`, (f: MediaFile) => f.takenAt >= T0 + 20 * HOUR],
        [`zoom=16&from=${T0 + 20 * HOUR}`, (f: MediaFile) => f.takenAt >= T0 + 20 * HOUR],
        ['zoom=5&group=g-a', (f: MediaFile) => f.fileGroupId === 'g-a'],
      ] as const) {
        const filtered = await get(`/api/v1/workspaces/${ws}/media/map?${query}`);
        assert.equal(sum(filtered.clusters), geotagged.filter(keep).length, query);
        assert.equal(filtered.exact, true);
        for (const cluster of filtered.clusters) {
          assert.ok(
            geotagged.filter(keep).some((f) => f.id === cluster.file_id),
            `${query}: names its own file`,
          );
        }
      }
      // The box across the antimeridian holds nothing here; the whole world at zoom 12 still answers.
      assert.deepEqual(
        (await get(`/api/v1/workspaces/${ws}/media/map?zoom=4&bbox=170,-10,-170,10`)).clusters,
        [],
      );
      const wide = await get(`/api/v1/workspaces/${ws}/media/map?zoom=12`);
      assert.equal(sum(wide.clusters), (await rows()).filter((f) => f.latitude !== null).length);
    });

    it('gives one file with its preview, stream and download links, and deletes its objects', async () => {
      const recorded = await upload('DJI_DETAIL_0001.JPG', {
        ext: { sn: 'DRONE-A', drone_model_key: '0-67-0' },
      });
      const preview = `${ws}/previews/${recorded.id}.jpg`;
      await t.app.storage.put(preview, Buffer.from('preview bytes'), { contentType: 'image/jpeg' });
      await t.app.database.db
        .updateTable('mediaFiles')
        .set({ previewKey: preview })
        .where('id', '=', recorded.id)
        .execute();
      const detail = await get(`/api/v1/workspaces/${ws}/media/${recorded.id}`);
      assert.equal(detail.name, 'DJI_DETAIL_0001.JPG');
      assert.equal(detail.drone_name, 'Matrice 30');
      assert.equal(detail.payload_name, null);
      assert.match(detail.preview_url, /^http:\/\/127\.0\.0\.1:\d+\//);
      assert.equal(await (await fetch(detail.preview_url)).text(), 'preview bytes');
      const stream = await fetch(detail.stream_url, { headers: { range: 'bytes=0-4' } });
      assert.equal(await stream.text(), 'bytes');
      assert.doesNotMatch(stream.headers.get('content-disposition') ?? '', /attachment/);
      const download = await fetch(detail.download_url);
      assert.equal(await download.text(), 'bytes of DJI_DETAIL_0001.JPG');
      assert.match(
        download.headers.get('content-disposition') ?? '',
        /attachment; filename\*=UTF-8''DJI_DETAIL_0001\.JPG/,
      );

      const missing = await request('GET', `/api/v1/workspaces/${ws}/media/${newId()}`);
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().code, 100406);

      const deleted = await request('DELETE', `/api/v1/workspaces/${ws}/media`, { file_ids: [recorded.id] });
      assert.deepEqual(deleted.json().data, { deleted: [recorded.id] });
      assert.equal(await t.app.storage.head(recorded.objectKey), undefined);
      assert.equal(await t.app.storage.head(preview), undefined, 'the preview goes with the file');
      assert.equal(
        (await request('DELETE', `/api/v1/workspaces/${ws}/media`, { file_ids: [] })).statusCode,
        400,
      );
    });

    it('lists file groups with their counts, which are uploading, and a cover', async () => {
      await t.inject({
        method: 'POST',
        url: `/media/api/v1/workspaces/${ws}/group-upload-callback`,
        headers: { 'x-auth-token': token },
        payload: { file_group_id: 'g-a', file_count: 1000, file_uploaded_count: 10 },
      });
      const now = Date.now();
      await t.app.repos.media.upsertGroupFacts(ws, 'g-dock', now, { gatewaySn: 'DOCK-1', expectedCount: 5 });
      await t.app.repos.media.upsertGroupFacts(ws, 'g-dock', now, {
        gatewaySn: 'DOCK-1',
        prioritizedAt: now,
      });
      const newestOfB = (await rows()).filter((f) => f.fileGroupId === 'g-b').sort(newestFirst)[0]!;
      await t.app.database.db
        .updateTable('mediaFiles')
        .set({ thumbnailKey: `${ws}/thumbnails/${newestOfB.id}.jpg` })
        .where('id', '=', newestOfB.id)
        .execute();
      await upload('DJI_GROUP_0001.JPG', { ext: { sn: 'DRONE-A', file_group_id: 'g-live' } });

      const { items } = await get(`/api/v1/workspaces/${ws}/file-groups`);
      const byId = new Map(items.map((g: { id: string }) => [g.id, g]));
      const all = await rows();
      const a = byId.get('g-a') as Record<string, unknown>;
      assert.deepEqual(
        { ...a, updated_at: 0, thumbnail_url: null },
        {
          id: 'g-a',
          expected: 1000,
          stored: all.filter((f) => f.fileGroupId === 'g-a').length,
          reported_uploaded: 10,
          complete: false,
          uploading: false,
          gateway_sn: null,
          updated_at: 0,
          thumbnail_url: null,
        },
      );
      assert.equal(
        (byId.get('g-dock') as { uploading: boolean }).uploading,
        true,
        'its dock uploads it first',
      );
      assert.equal((byId.get('g-dock') as { gateway_sn: string }).gateway_sn, 'DOCK-1');
      assert.equal((byId.get('g-live') as { uploading: boolean }).uploading, true, 'a file just arrived');
      assert.equal((byId.get('g-b') as { uploading: boolean }).uploading, false);
      assert.match((byId.get('g-b') as { thumbnail_url: string }).thumbnail_url, new RegExp(newestOfB.id));
    });

    it('keeps other workspaces out and refuses bad cursors, boxes and limits', async () => {
      const someId = (await rows())[0]!.id;
      for (const url of [
        `/api/v1/workspaces/${ws}/media`,
        `/api/v1/workspaces/${ws}/media/facets`,
        `/api/v1/workspaces/${ws}/media/map?zoom=3`,
        `/api/v1/workspaces/${ws}/media/${someId}`,
        `/api/v1/workspaces/${ws}/file-groups`,
      ]) {
        assert.equal((await request('GET', url, undefined, stranger)).statusCode, 403, url);
      }
      const refused = await request(
        'DELETE',
        `/api/v1/workspaces/${ws}/media`,
        { file_ids: [someId] },
        stranger,
      );
      assert.equal(refused.statusCode, 403);
      assert.ok(
        (await rows()).some((f) => f.id === someId),
        'nothing deleted',
      );

      for (const cursor of [
        'nonsense',
        Buffer.from('[1,2]').toString('base64url'),
        Buffer.from('{}').toString('base64url'),
      ]) {
        const response = await request('GET', `/api/v1/workspaces/${ws}/media?cursor=${cursor}`);
        assert.equal(response.statusCode, 400, cursor);
        assert.equal(response.json().code, 400);
        assert.match(response.json().message, /cursor/);
      }
      for (const bbox of ['1,2,3', '0,50,10,40', '0,-95,10,10', 'a,b,c,d', '1,2,3,4,5']) {
        const response = await request('GET', `/api/v1/workspaces/${ws}/media/map?zoom=3&bbox=${bbox}`);
        assert.equal(response.statusCode, 400, bbox);
        assert.match(response.json().message, /bbox/);
      }
      for (const url of [
        `/api/v1/workspaces/${ws}/media?limit=0`,
        `/api/v1/workspaces/${ws}/media?limit=501`,
        `/api/v1/workspaces/${ws}/media/map?zoom=23`,
        `/api/v1/workspaces/${ws}/media/map`,
        `/api/v1/workspaces/${ws}/media?type=audio`,
      ]) {
        assert.equal((await request('GET', url)).statusCode, 400, url);
      }
    });

    it('is described in the OpenAPI document', async () => {
      const doc = (await t.inject({ method: 'GET', url: '/docs/json' })).json();
      for (const path of [
        '/api/v1/workspaces/{workspace_id}/media',
        '/api/v1/workspaces/{workspace_id}/media/{file_id}',
        '/api/v1/workspaces/{workspace_id}/media/facets',
        '/api/v1/workspaces/{workspace_id}/media/map',
        '/api/v1/workspaces/{workspace_id}/file-groups',
      ]) {
        assert.ok(doc.paths[path]?.get?.tags?.includes('web library'), path);
      }
      assert.ok(doc.paths['/api/v1/workspaces/{workspace_id}/media'].delete);
    });
  });
}
