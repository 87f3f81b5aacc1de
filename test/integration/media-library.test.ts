import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testDialects } from '../helpers/databases.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { testPilot } from '../helpers/pilot.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

for (const dialect of testDialects()) {
  describe(`media library on ${dialect}`, () => {
    let t: TestApp;
    let token: string;
    let ws: string;
    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({ dialect }));
      const pilot = await testPilot(t, token, ws);
      const at = (iso: string) => ({ metadata: { created_time: iso } });
      const files: [string, string, Record<string, unknown>, string?][] = [
        [
          'mission-a/DJI_0001.JPG',
          'photo 1',
          { ext: { sn: 'DRONE-A', file_group_id: 'g-1' }, ...at('2024-05-01T10:00:00Z') },
        ],
        [
          'mission-a/DJI_0002.JPG',
          'photo 2',
          { ext: { sn: 'DRONE-A', file_group_id: 'g-1' }, ...at('2024-05-01T10:05:00Z') },
        ],
        [
          'mission-b/DJI_0003_100%.MP4',
          'video',
          {
            ext: { sn: 'DRONE-B', file_group_id: 'g-2' },
            path: 'Survey North',
            ...at('2024-06-01T09:00:00Z'),
          },
          'video/mp4',
        ],
        ['loose/DJI_0004.JPG', 'photo 4', { ext: { sn: 'DRONE-B' } }],
        ['loose/rtk.obs', 'rtk', {}, 'application/octet-stream'],
      ];
      for (const [name, body, report, type] of files) {
        const answer = await pilot.upload(name, body, report, type);
        if (answer.code !== 0) throw new Error(`upload of ${name}: ${answer.message}`);
      }
      await t.inject({
        method: 'POST',
        url: `/media/api/v1/workspaces/${ws}/group-upload-callback`,
        headers: { 'x-auth-token': token },
        payload: { file_group_id: 'g-1', file_count: 3, file_uploaded_count: 2 },
      });
      await t.inject({
        method: 'POST',
        url: `/media/api/v1/workspaces/${ws}/group-upload-callback`,
        headers: { 'x-auth-token': token },
        payload: { file_group_id: 'g-2', file_count: 1, file_uploaded_count: 1 },
      });
    });
    after(() => t.close());

    const get = (url: string, auth = token) =>
      t.inject({ method: 'GET', url, headers: { 'x-auth-token': auth, host: '127.0.0.1' } });
    const names = async (query: string) => {
      const body = (await get(`/media/api/v1/files/${ws}/files?page_size=50${query}`)).json();
      assert.equal(body.code, 0, body.message);
      return body.data.list.map((f: { file_name: string }) => f.file_name);
    };

    it('lists newest first, paged, in the DJI demo shape with metadata', async () => {
      const body = (await get(`/media/api/v1/files/${ws}/files?page=1&page_size=2`)).json();
      assert.deepEqual(body.data.pagination, { page: 1, page_size: 2, total: 5 });
      assert.deepEqual(
        body.data.list.map((f: { file_name: string }) => f.file_name),
        ['rtk.obs', 'DJI_0004.JPG'],
      );
      const all = (await get(`/media/api/v1/files/${ws}/files?page_size=50`)).json().data.list;
      const video = all.find((f: { file_name: string }) => f.file_name === 'DJI_0003_100%.MP4');
      assert.equal(video.media_type, 'video');
      assert.equal(video.drone, 'DRONE-B');
      assert.equal(video.job_id, 'g-2');
      assert.equal(video.file_path, 'Survey North');
      assert.equal(video.is_original, true);
      assert.equal(video.captured_time, '2024-06-01T09:00:00.000Z');
      assert.match(video.create_time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.equal(all.find((f: { file_name: string }) => f.file_name === 'rtk.obs').media_type, 'other');
    });

    it('filters by device, type, time, group and text', async () => {
      assert.deepEqual(await names('&device_sn=DRONE-A'), ['DJI_0002.JPG', 'DJI_0001.JPG']);
      assert.deepEqual(await names('&type=video'), ['DJI_0003_100%.MP4']);
      assert.deepEqual((await names('&type=image')).sort(), ['DJI_0001.JPG', 'DJI_0002.JPG', 'DJI_0004.JPG']);
      const from = Date.parse('2024-05-01T10:01:00Z');
      const to = Date.parse('2024-06-30T00:00:00Z');
      assert.deepEqual(await names(`&begin_time=${from}&end_time=${to}`), [
        'DJI_0003_100%.MP4',
        'DJI_0002.JPG',
      ]);
      assert.deepEqual(await names('&file_group_id=g-1'), ['DJI_0002.JPG', 'DJI_0001.JPG']);
      assert.deepEqual(await names('&job_id=g-2'), ['DJI_0003_100%.MP4']);
      assert.deepEqual(await names('&q=survey'), ['DJI_0003_100%.MP4'], 'path, case-insensitive');
      assert.deepEqual(await names('&q=dji_000'), [
        'DJI_0004.JPG',
        'DJI_0003_100%.MP4',
        'DJI_0002.JPG',
        'DJI_0001.JPG',
      ]);
      assert.deepEqual(
        await names(`&q=${encodeURIComponent('100%')}`),
        ['DJI_0003_100%.MP4'],
        '% is a literal',
      );
      assert.deepEqual(await names('&q=_0003'), ['DJI_0003_100%.MP4'], '_ is a literal');
      assert.equal((await get(`/media/api/v1/files/${ws}/files?type=audio`)).statusCode, 400);
    });

    it('downloads through a 302 to a time-limited URL under the file name', async () => {
      const file = (await get(`/media/api/v1/files/${ws}/files?q=DJI_0001`)).json().data.list[0];
      const response = await get(`/media/api/v1/files/${ws}/file/${file.file_id}/url`);
      assert.equal(response.statusCode, 302);
      const location = response.headers.location as string;
      assert.match(location, /^http:\/\/127\.0\.0\.1:\d+\/skyvault\/.+X-Amz-Signature=/);
      const download = await fetch(location);
      assert.equal(await download.text(), 'photo 1');
      assert.match(download.headers.get('content-disposition') ?? '', /filename\*=UTF-8''DJI_0001\.JPG/);
      const missing = await get(`/media/api/v1/files/${ws}/file/00000000-0000-0000-0000-000000000000/url`);
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().code, 100406);
    });

    it('reports file groups with their completeness', async () => {
      const groups = (await get(`/media/api/v1/files/${ws}/groups`)).json().data.list;
      const g1 = groups.find((g: { file_group_id: string }) => g.file_group_id === 'g-1');
      assert.deepEqual(
        { ...g1, update_time: 'x' },
        {
          file_group_id: 'g-1',
          expected_count: 3,
          reported_uploaded_count: 2,
          stored_count: 2,
          complete: false,
          update_time: 'x',
        },
      );
      const g2 = groups.find((g: { file_group_id: string }) => g.file_group_id === 'g-2');
      assert.equal(g2.complete, true);
    });

    it('keeps other workspaces out', async () => {
      const other = await createWorkspace(t.app.database.db);
      await createUser(t.app.database.db, other, `lib-${dialect}`, 'pw-lib');
      const stranger = await t.login(`lib-${dialect}`, 'pw-lib');
      assert.equal((await get(`/media/api/v1/files/${ws}/files`, stranger.access_token)).statusCode, 403);
      const own = (await get(`/media/api/v1/files/${other}/files`, stranger.access_token)).json();
      assert.deepEqual(own.data.pagination.total, 0);
      const file = (await get(`/media/api/v1/files/${ws}/files?q=DJI_0001`)).json().data.list[0];
      assert.equal(
        (await get(`/media/api/v1/files/${other}/file/${file.file_id}/url`, stranger.access_token))
          .statusCode,
        404,
      );
    });

    it('deletes one or many files with their objects; unknown ids are skipped', async () => {
      const list = (await get(`/media/api/v1/files/${ws}/files?page_size=50`)).json().data.list as {
        file_id: string;
        file_name: string;
        object_key: string;
      }[];
      const one = list.find((f) => f.file_name === 'DJI_0004.JPG')!;
      const removed = await t.inject({
        method: 'DELETE',
        url: `/media/api/v1/files/${ws}/file/${one.file_id}`,
        headers: { 'x-auth-token': token },
      });
      assert.deepEqual(removed.json().data, { deleted: [one.file_id] });
      assert.equal(await t.app.storage.head(one.object_key), undefined);
      assert.equal(
        (
          await t.inject({
            method: 'DELETE',
            url: `/media/api/v1/files/${ws}/file/${one.file_id}`,
            headers: { 'x-auth-token': token },
          })
        ).statusCode,
        404,
      );

      const many = list
        .filter((f) => f.file_name.startsWith('DJI_000') && f.file_name !== 'DJI_0004.JPG')
        .map((f) => f.file_id);
      const response = await t.inject({
        method: 'DELETE',
        url: `/media/api/v1/files/${ws}/files`,
        headers: { 'x-auth-token': token },
        payload: { file_ids: [...many, 'not-a-file'] },
      });
      assert.deepEqual(response.json().data.deleted.sort(), [...many].sort());
      assert.deepEqual(await names(''), ['rtk.obs']);
      const empty = await t.inject({
        method: 'DELETE',
        url: `/media/api/v1/files/${ws}/files`,
        headers: { 'x-auth-token': token },
        payload: { file_ids: [] },
      });
      assert.equal(empty.statusCode, 400);
    });
  });
}
