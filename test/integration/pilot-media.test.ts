import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { UploadCredentials } from '../../src/storage/provider.ts';
import { testDialects } from '../helpers/databases.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { sdkClient } from '../helpers/storage.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

for (const dialect of testDialects()) {
  describe(`Pilot 2 media upload on ${dialect}`, () => {
    let t: TestApp;
    let token: string;
    let ws: string;
    let credentials: UploadCredentials;
    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({ dialect }));
    });
    after(() => t.close());

    const call = (method: 'GET' | 'POST', url: string, payload?: unknown, auth = token) =>
      t.inject({
        method,
        url,
        headers: { 'x-auth-token': auth, host: '127.0.0.1' },
        ...(payload === undefined ? {} : { payload: payload as object }),
      });
    const mediaUrl = (path: string) => `/media/api/v1/workspaces/${ws}/${path}`;
    const mediaRows = () =>
      t.app.database.db.selectFrom('mediaFiles').selectAll().where('workspaceId', '=', ws).execute();
    const upload = async (key: string, body: Buffer | string, contentType = 'image/jpeg') => {
      const client = sdkClient(credentials);
      await client.send(
        new PutObjectCommand({ Bucket: credentials.bucket, Key: key, Body: body, ContentType: contentType }),
      );
      client.destroy();
    };
    const callback = (objectKey: string, extra: Record<string, unknown> = {}) =>
      call('POST', mediaUrl('upload-callback'), {
        result: 0,
        name: objectKey.split('/').pop(),
        path: 'wayline-1',
        object_key: objectKey,
        fingerprint: `fp-${objectKey}`,
        sub_file_type: 0,
        ext: {
          file_group_id: 'group-1',
          drone_model_key: '0-67-0',
          payload_model_key: '1-53-0',
          is_original: true,
          tinny_fingerprint: `tiny-${objectKey}`,
          sn: '1581F5BKD225D00BJ6N1',
        },
        metadata: {
          absolute_altitude: 56.311,
          relative_altitude: 41.124,
          gimbal_yaw_degree: -91.4,
          created_time: '2021-12-02T16:17:07+08:00',
          shoot_position: { lat: 22.579712, lng: 113.938031 },
        },
        ...extra,
      });

    it('issues STS credentials for the workspace prefix, reachable at the host the device used', async () => {
      for (const method of ['POST', 'GET'] as const) {
        const response = await call(method, `/storage/api/v1/workspaces/${ws}/sts`);
        assert.equal(response.statusCode, 200);
        const { code, data } = response.json();
        assert.equal(code, 0);
        assert.equal(data.provider, 'minio');
        assert.equal(data.object_key_prefix, `${ws}/media`);
        assert.equal(data.bucket, 'skyvault');
        assert.equal(data.region, 'us-east-1');
        assert.equal(data.endpoint, `http://127.0.0.1:${t.app.embeddedStore!.port}`);
        assert.ok(
          data.credentials.expire >= 3290 && data.credentials.expire <= 3300,
          `expire ${data.credentials.expire}: 3600 s less the 300 s margin`,
        );
        for (const field of ['access_key_id', 'access_key_secret', 'security_token'])
          assert.ok(data.credentials[field]);
        credentials = {
          accessKeyId: data.credentials.access_key_id,
          accessKeySecret: data.credentials.access_key_secret,
          securityToken: data.credentials.security_token,
          endpoint: data.endpoint,
          bucket: data.bucket,
          region: data.region,
          provider: data.provider,
          prefix: data.object_key_prefix,
          expiresAt: 0,
        };
      }
    });

    it('runs the whole flow: upload with the credentials, report, then fast-upload and tiny fingerprints find it', async () => {
      const key = `${ws}/media/DJI_20211202161708_0001_Z.jpg`;
      assert.equal(
        (await call('POST', mediaUrl('fast-upload'), { fingerprint: `fp-${key}` })).json().code,
        100404,
      );
      const jpeg = randomBytes(5000);
      await upload(key, jpeg);
      const reported = await callback(key);
      assert.equal(reported.statusCode, 200);
      assert.deepEqual(reported.json(), { code: 0, message: 'success', data: { object_key: key } });

      const [row, ...others] = await mediaRows();
      assert.equal(others.length, 0);
      assert.equal(row!.objectKey, key);
      assert.equal(row!.size, 5000);
      assert.equal(row!.contentType, 'image/jpeg');
      assert.equal(row!.fingerprint, `FP-${key}`.toUpperCase());
      assert.equal(row!.tinyFingerprint, `tiny-${key}`);
      assert.equal(row!.fileGroupId, 'group-1');
      assert.equal(row!.droneSn, '1581F5BKD225D00BJ6N1');
      assert.equal(row!.latitude, 22.579712);
      assert.equal(row!.gimbalYawDegree, -91.4);
      assert.equal(row!.capturedAt, Date.parse('2021-12-02T08:17:07Z'));
      assert.equal(row!.isOriginal, 1);

      const found = await call('POST', mediaUrl('fast-upload'), {
        fingerprint: `fp-${key}`.toLowerCase(),
        name: 'x',
        ext: { tinny_fingerprint: 'x' },
      });
      assert.deepEqual(found.json(), { code: 0, message: 'success', data: {} });

      const tiny = `tiny-${key}`;
      const asked = ['unknown-1', tiny, 'unknown-2', tiny];
      assert.deepEqual(
        (await call('POST', mediaUrl('files/tiny-fingerprints'), { tiny_fingerprints: asked })).json().data,
        { tiny_fingerprints: [tiny, tiny] },
      );
      assert.deepEqual((await call('POST', mediaUrl('files/tiny-fingerprints'), asked)).json().data, {
        tiny_fingerprints: [tiny, tiny],
      });
      assert.deepEqual(
        (await call('POST', mediaUrl('files/tiny-fingerprints'), { tiny_fingerprints: [] })).json().data,
        { tiny_fingerprints: [] },
      );
      const viaGet = await call(
        'GET',
        `${mediaUrl('files/tiny-fingerprints')}?tiny_fingerprint=nope,${encodeURIComponent(tiny)}&tiny_fingerprint=other`,
      );
      assert.deepEqual(viaGet.json().data, { tiny_fingerprints: [tiny] });
      assert.deepEqual(
        (
          await call('POST', mediaUrl('files/tiny-fingerprints'), { tiny_fingerprints: [tiny.toUpperCase()] })
        ).json().data.tiny_fingerprints,
        [],
        'tiny fingerprints compare exactly',
      );
    });

    it('answers a repeated or concurrent report the same, storing one file', async () => {
      const key = `${ws}/media/repeat.jpg`;
      await upload(key, 'repeat');
      const answers = await Promise.all(Array.from({ length: 5 }, () => callback(key)));
      for (const answer of answers)
        assert.deepEqual(answer.json(), { code: 0, message: 'success', data: { object_key: key } });
      assert.equal((await callback(key)).json().code, 0);
      assert.equal((await mediaRows()).filter((r) => r.objectKey === key).length, 1);
    });

    it('rewrites a row only when a report changes it, never erasing what is known of the same bytes', async () => {
      const key = `${ws}/media/rewrite.jpg`;
      const row = async () => (await mediaRows()).find((r) => r.objectKey === key)!;
      const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
      await upload(key, 'first bytes');
      assert.equal((await callback(key)).json().code, 0);
      const first = await row();

      await tick();
      assert.equal((await callback(key)).json().code, 0);
      assert.equal((await row()).updatedAt, first.updatedAt, 'a repeated report writes nothing');

      await tick();
      const sparse = { fingerprint: undefined, ext: { is_original: true }, metadata: {} };
      assert.equal((await callback(key, sparse)).json().code, 0);
      const afterSparse = await row();
      assert.equal(afterSparse.updatedAt, first.updatedAt, 'a report lacking facts changes nothing');
      for (const column of [
        'fingerprint',
        'tinyFingerprint',
        'fileGroupId',
        'droneSn',
        'latitude',
        'longitude',
        'absoluteAltitude',
        'gimbalYawDegree',
        'capturedAt',
        'capturedAtRaw',
      ] as const) {
        assert.notEqual(afterSparse[column], null, `${column} kept`);
        assert.equal(afterSparse[column], first[column], `${column} kept`);
      }

      await tick();
      const turned = { metadata: { gimbal_yaw_degree: 12.5 } };
      assert.equal((await callback(key, turned)).json().code, 0);
      const afterTurn = await row();
      assert.equal(afterTurn.gimbalYawDegree, 12.5);
      assert.equal(afterTurn.latitude, first.latitude);
      assert.ok(afterTurn.updatedAt > first.updatedAt, 'a report with new facts is written');
      assert.equal(afterTurn.id, first.id);

      await upload(key, 'other bytes under the same key');
      assert.equal((await callback(key, sparse)).json().code, 0);
      const replaced = await row();
      assert.notEqual(replaced.etag, first.etag);
      assert.equal(replaced.size, 'other bytes under the same key'.length);
      assert.equal(replaced.latitude, null, 'facts about the old bytes are dropped with them');
      assert.equal(replaced.fingerprint, null);
      assert.equal(replaced.id, first.id);
    });

    it('keeps one file when the same fingerprint arrives under another key, removing the redundant copy', async () => {
      const first = `${ws}/media/twin-a.jpg`;
      const second = `${ws}/media/twin-b.jpg`;
      await upload(first, 'same bytes');
      await upload(second, 'same bytes');
      assert.equal((await callback(first, { fingerprint: 'TWIN' })).json().code, 0);
      assert.equal((await callback(second, { fingerprint: 'twin' })).json().code, 0);
      assert.deepEqual(
        (await mediaRows()).filter((r) => r.fingerprint === 'TWIN').map((r) => r.objectKey),
        [first],
      );
      assert.equal(await t.app.storage.head(second), undefined);
    });

    it('settles concurrent reports of one file under two keys on one record', async () => {
      const keys = [`${ws}/media/race-a.jpg`, `${ws}/media/race-b.jpg`];
      for (const key of keys) await upload(key, 'raced bytes');
      const answers = await Promise.all(keys.map((key) => callback(key, { fingerprint: 'RACED' })));
      for (const answer of answers) assert.equal(answer.json().code, 0, answer.body);
      const rows = (await mediaRows()).filter((r) => r.fingerprint === 'RACED');
      assert.equal(rows.length, 1);
      const kept = rows[0]!.objectKey;
      assert.ok(await t.app.storage.head(kept), 'the recorded object is there');
    });

    it('takes numbers as strings, zone-less dock times and sparse reports', async () => {
      const key = `${ws}/media/strings.jpg`;
      await upload(key, 'strings');
      const response = await call('POST', mediaUrl('upload-callback'), {
        name: 'strings.jpg',
        object_key: key,
        sub_file_type: '1',
        ext: { is_original: 0, unknown_field: 'kept out' },
        metadata: {
          gimbal_yaw_degree: '-91.40',
          absolute_altitude: '56.3',
          create_time: '2021-05-10 16:04:20',
          shoot_position: { lat: '0', lng: '0' },
        },
        photoed_position: { lat: 1 },
      });
      assert.equal(response.json().code, 0, response.body);
      const row = (await mediaRows()).find((r) => r.objectKey === key)!;
      assert.equal(row.gimbalYawDegree, -91.4);
      assert.equal(row.subFileType, 1);
      assert.equal(row.isOriginal, 0);
      assert.equal(row.capturedAt, null);
      assert.equal(row.capturedAtRaw, '2021-05-10 16:04:20');
      assert.equal(row.latitude, null, '0,0 is no GPS fix');
      assert.equal(row.fingerprint, null);
    });

    it('logs a failed upload (result ≠ 0) without showing it', async () => {
      const key = `${ws}/media/failed.jpg`;
      const response = await callback(key, { result: 3 });
      assert.deepEqual(response.json(), { code: 0, message: 'success', data: { object_key: key } });
      assert.equal(
        (await mediaRows()).some((r) => r.objectKey === key),
        false,
      );
      const failures = await t.app.database.db
        .selectFrom('mediaUploadFailures')
        .selectAll()
        .where('objectKey', '=', key)
        .execute();
      assert.equal(failures.length, 1);
      assert.equal(failures[0]!.result, 3);
    });

    it('refuses keys outside the workspace prefix and objects that are not in storage, storing nothing', async () => {
      const before = (await mediaRows()).length;
      const outside = await callback('other-workspace/media/x.jpg');
      assert.equal(outside.statusCode, 403);
      assert.equal(outside.json().code, 100403);
      const sibling = await callback(`${ws}/media-evil/x.jpg`);
      assert.equal(sibling.json().code, 100403);
      const missing = await callback(`${ws}/media/never-uploaded.jpg`);
      assert.equal(missing.statusCode, 200);
      assert.equal(missing.json().code, 100410);
      assert.equal((await mediaRows()).length, before);
    });

    it('repairs a record whose object vanished: fast-upload says upload again', async () => {
      const key = `${ws}/media/vanished.jpg`;
      await upload(key, 'vanishing');
      await callback(key, { fingerprint: 'VANISHED' });
      assert.equal((await call('POST', mediaUrl('fast-upload'), { fingerprint: 'VANISHED' })).json().code, 0);
      await t.app.storage.delete(key);
      assert.equal(
        (await call('POST', mediaUrl('fast-upload'), { fingerprint: 'VANISHED' })).json().code,
        100404,
      );
      assert.equal(
        (await mediaRows()).some((r) => r.objectKey === key),
        false,
      );
      await upload(key, 'vanishing');
      assert.equal((await callback(key, { fingerprint: 'VANISHED' })).json().code, 0);
    });

    it('records file group counts', async () => {
      const response = await call('POST', mediaUrl('group-upload-callback'), {
        file_group_id: 'group-1',
        file_count: 12,
        file_uploaded_count: '11',
      });
      assert.deepEqual(response.json(), { code: 0, message: 'success', data: {} });
      const group = await t.app.database.db
        .selectFrom('fileGroups')
        .selectAll()
        .where('id', '=', 'group-1')
        .executeTakeFirstOrThrow();
      assert.equal(group.expectedCount, 12);
      assert.equal(group.reportedUploadedCount, 11);
      const again = await call('POST', mediaUrl('group-upload-callback'), {
        file_group_id: 'group-1',
        file_count: 12,
        file_uploaded_count: 12,
      });
      assert.equal(again.json().code, 0);
    });

    it('links a fast-upload hit to the group it names, so deduplicated media count (decision §10.6)', async () => {
      const groupCount = async (id: string) => {
        const list = (await call('GET', `/media/api/v1/files/${ws}/groups`)).json().data.list as {
          file_group_id: string;
          stored_count: number;
        }[];
        return list.find((g) => g.file_group_id === id)?.stored_count ?? 0;
      };
      // A file recorded in mission A, then met again by mission B's fast-upload.
      const shared = `${ws}/media/mission-a/DJI_SHARED.JPG`;
      await upload(shared, randomBytes(64));
      await callback(shared, { fingerprint: 'FP-SHARED', ext: { file_group_id: 'mission-a' } });
      for (let i = 0; i < 2; i++) {
        const hit = await call('POST', mediaUrl('fast-upload'), {
          fingerprint: 'fp-shared',
          ext: { file_group_id: 'mission-b' },
        });
        assert.equal(hit.json().code, 0);
      }
      assert.equal(await groupCount('mission-a'), 1);
      assert.equal(await groupCount('mission-b'), 1, 'counted once, however often Pilot asks');
      const [row] = (await mediaRows()).filter((r) => r.objectKey === shared);
      assert.equal(row!.fileGroupId, 'mission-a', 'the file stays recorded where it was');

      // A file without a group joins the one a fast-upload names.
      const loose = `${ws}/media/DJI_LOOSE.JPG`;
      await upload(loose, randomBytes(64));
      await callback(loose, { fingerprint: 'FP-LOOSE', ext: {} });
      await call('POST', mediaUrl('fast-upload'), {
        fingerprint: 'FP-LOOSE',
        ext: { file_group_id: 'mission-c' },
      });
      assert.equal((await mediaRows()).find((r) => r.objectKey === loose)?.fileGroupId, 'mission-c');
      assert.equal(await groupCount('mission-c'), 1);

      // Deleting the file takes it out of every group.
      const deleted = await t.inject({
        method: 'DELETE',
        url: `/media/api/v1/files/${ws}/file/${row!.id}`,
        headers: { 'x-auth-token': token },
      });
      assert.equal(deleted.json().code, 0, deleted.body);
      assert.equal(await groupCount('mission-b'), 0);
    });

    it('tolerates doubled slashes, refuses other workspaces, missing tokens and bad bodies', async () => {
      const doubled = await call('POST', `//media/api/v1/workspaces/${ws}//fast-upload`, {
        fingerprint: 'nothing',
      });
      assert.equal(doubled.json().code, 100404);
      const other = await createWorkspace(t.app.database.db);
      await createUser(t.app.database.db, other, `pilot-${dialect}`, 'pw-other');
      const stranger = await t.login(`pilot-${dialect}`, 'pw-other');
      for (const [method, path] of [
        ['POST', 'fast-upload'],
        ['POST', 'upload-callback'],
        ['POST', 'files/tiny-fingerprints'],
        ['POST', 'group-upload-callback'],
      ] as const) {
        assert.equal((await call(method, mediaUrl(path), {}, stranger.access_token)).statusCode, 403, path);
      }
      assert.equal(
        (await call('POST', `/storage/api/v1/workspaces/${ws}/sts`, undefined, stranger.access_token))
          .statusCode,
        403,
      );
      assert.equal(
        (await t.inject({ method: 'POST', url: mediaUrl('fast-upload'), payload: { fingerprint: 'x' } }))
          .statusCode,
        401,
      );

      const before = (await mediaRows()).length;
      const malformed = await t.inject({
        method: 'POST',
        url: mediaUrl('upload-callback'),
        headers: { 'x-auth-token': token, 'content-type': 'application/json' },
        payload: '{"object_key":',
      });
      assert.equal(malformed.statusCode, 400);
      const missingKey = await call('POST', mediaUrl('upload-callback'), { name: 'x.jpg' });
      assert.equal(missingKey.statusCode, 400);
      assert.match(missingKey.json().message, /object_key/);
      const huge = await call('POST', mediaUrl('upload-callback'), {
        name: 'x',
        object_key: `${ws}/media/x`,
        path: 'p'.repeat(2_000_000),
      });
      assert.equal(huge.statusCode, 413);
      assert.equal((await mediaRows()).length, before);
    });
  });
}
