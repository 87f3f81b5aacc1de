/**
 * Replays of device payloads as devices really send them, varied the ways they vary: `null` for absent
 * fields, numbers as strings, missing optional fields, the documented misspellings. Each asserts what
 * the library stored, over Pilot's HTTP and the dock's MQTT alike (docs/protocol.md §3.5, §4.2, §10).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { MediaFile } from '../../src/features/media/media.repo.ts';
import { connectDock, mqttAccountOf, type TestDock } from '../helpers/dock.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

const DOCK = 'REPLAY-DOCK';

describe('device payload replay', () => {
  let t: TestApp;
  let token: string;
  let ws: string;
  let dock: TestDock;
  let n = 0;

  before(async () => {
    ({ t, token, ws } = await startLoggedInApp());
    const mqttPort = t.app.broker!.port;
    dock = await connectDock(`mqtt://127.0.0.1:${mqttPort}`, DOCK, await mqttAccountOf(t, token));
    await dock.send('status', 'update_topo', {
      domain: 3,
      type: 1,
      sub_type: 0,
      sub_devices: [{ sn: 'REPLAY-AIRCRAFT', domain: 0, type: 67, sub_type: 0 }],
    });
  });
  after(async () => {
    await dock.close();
    await t.close();
  });

  /** A new object in the workspace's media prefix (as the device uploaded it). */
  async function object(name: string): Promise<string> {
    n += 1;
    const key = `${ws}/media/replay-${n}/${name}`;
    await t.app.storage.put(key, Buffer.from(`bytes of ${key}`), { contentType: 'image/jpeg' });
    return key;
  }
  const stored = async (key: string): Promise<MediaFile> => {
    const file = await t.app.repos.media.findByObjectKey(ws, key);
    assert.ok(file, `${key} recorded`);
    return file;
  };
  const pilotCallback = (body: Record<string, unknown>) =>
    t.inject({
      method: 'POST',
      url: `/media/api/v1/workspaces/${ws}/upload-callback`,
      headers: { 'x-auth-token': token },
      payload: body,
    });
  const dockCallback = async (file: Record<string, unknown>) => {
    const reply = await dock.send('events', 'file_upload_callback', { result: 0, file }, { needReply: true });
    assert.equal(reply?.data.result, 0);
  };

  describe('Pilot upload-callback', () => {
    it('reads null as absent: no pin at 0,0, no zero altitudes, is_original stays true', async () => {
      const key = await object('DJI_0001.JPG');
      const res = await pilotCallback({
        result: null,
        name: 'DJI_0001.JPG',
        path: null,
        object_key: key,
        fingerprint: null,
        sub_file_type: null,
        ext: { file_group_id: null, sn: null, is_original: null, tinny_fingerprint: null },
        metadata: {
          absolute_altitude: null,
          relative_altitude: null,
          gimbal_yaw_degree: null,
          created_time: null,
          shoot_position: { lat: null, lng: null },
        },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().code, 0);
      const file = await stored(key);
      assert.equal(file.latitude, null);
      assert.equal(file.longitude, null);
      assert.equal(file.absoluteAltitude, null);
      assert.equal(file.relativeAltitude, null);
      assert.equal(file.gimbalYawDegree, null);
      assert.equal(file.isOriginal, 1);
      assert.equal(file.fingerprint, null);
      assert.equal(file.subFileType, null);
      assert.equal(file.path, '');
    });

    it('accepts ext, metadata and shoot_position as null', async () => {
      for (const body of [
        { ext: null, metadata: null },
        { metadata: { shoot_position: null, absolute_altitude: 10 } },
      ]) {
        const key = await object('DJI_0002.JPG');
        const res = await pilotCallback({ name: 'DJI_0002.JPG', object_key: key, ...body });
        assert.equal(res.statusCode, 200, res.body);
        const file = await stored(key);
        assert.equal(file.latitude, null);
      }
    });

    it('reads numbers sent as strings, and the tinny_fingerprint misspelling', async () => {
      const key = await object('DJI_0003.JPG');
      const res = await pilotCallback({
        result: '0',
        name: 'DJI_0003.JPG',
        path: 'wayline-7',
        object_key: key,
        sub_file_type: '1',
        ext: { tinny_fingerprint: 'tiny-3', is_original: 0, sn: 'AIRCRAFT-3', file_group_id: 'group-3' },
        metadata: {
          absolute_altitude: '56.311',
          gimbal_yaw_degree: '-91.40',
          create_time: '2021-05-10 16:04:20',
          shoot_position: { lat: '22.5797', lng: '113.9380' },
        },
      });
      assert.equal(res.statusCode, 200, res.body);
      const file = await stored(key);
      assert.equal(file.absoluteAltitude, 56.311);
      assert.equal(file.gimbalYawDegree, -91.4);
      assert.equal(file.latitude, 22.5797);
      assert.equal(file.longitude, 113.938);
      assert.equal(file.subFileType, 1);
      assert.equal(file.isOriginal, 0);
      assert.equal(file.tinyFingerprint, 'tiny-3');
      assert.equal(file.droneSn, 'AIRCRAFT-3');
      assert.equal(file.fileGroupId, 'group-3');
      assert.equal(file.path, 'wayline-7');
      assert.equal(file.capturedAtRaw, '2021-05-10 16:04:20');
      assert.equal(file.capturedAt, null, 'a zone-less time is kept raw, not placed on the time line');
    });

    it('answers group-upload-callback without a file group id', async () => {
      const res = await t.inject({
        method: 'POST',
        url: `/media/api/v1/workspaces/${ws}/group-upload-callback`,
        headers: { 'x-auth-token': token },
        payload: { file_count: 3, file_uploaded_count: 3 },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().code, 0);
    });
  });

  describe('dock file_upload_callback', () => {
    it('reads null as absent and records a file whose name is missing under its key’s name', async () => {
      const key = await object('DJI_0004.JPG');
      await dockCallback({
        object_key: key,
        path: null,
        ext: { flight_id: null, is_original: null, drone_model_key: null },
        metadata: {
          absolute_altitude: null,
          gimbal_yaw_degree: null,
          shoot_position: { lat: null, lng: null },
        },
      });
      const file = await stored(key);
      assert.equal(file.name, 'DJI_0004.JPG');
      assert.equal(file.latitude, null);
      assert.equal(file.absoluteAltitude, null);
      assert.equal(file.gimbalYawDegree, null);
      assert.equal(file.isOriginal, 1);
      assert.equal(file.fileGroupId, null);
      assert.equal(file.path, key.slice(0, key.lastIndexOf('/')));
      assert.equal(file.droneSn, 'REPLAY-AIRCRAFT');
    });

    it('accepts ext and metadata as null, and numbers as strings', async () => {
      const bare = await object('DJI_0005.JPG');
      await dockCallback({ object_key: bare, name: 'DJI_0005.JPG', ext: null, metadata: null });
      assert.equal((await stored(bare)).latitude, null);

      const key = await object('DJI_0006.JPG');
      await dockCallback({
        object_key: key,
        name: 'DJI_0006.JPG',
        ext: { flight_id: 'flight-6', is_original: 'true' },
        metadata: { relative_altitude: '41.124', shoot_position: { lat: '22.1', lng: '122.5' } },
      });
      const file = await stored(key);
      assert.equal(file.relativeAltitude, 41.124);
      assert.equal(file.latitude, 22.1);
      assert.equal(file.longitude, 122.5);
      assert.equal(file.fileGroupId, 'flight-6');
    });

    it('keeps two dock files with the same bytes: the MD5 fingerprint goes to the first only', async () => {
      const bytes = Buffer.from('the same PPK sidecar twice');
      const keys = [`${ws}/media/twin-1/DJI_0001.obs`, `${ws}/media/twin-2/DJI_0001.obs`];
      for (const key of keys) {
        await t.app.storage.put(key, bytes, { contentType: 'application/octet-stream' });
        await dockCallback({ object_key: key, name: 'DJI_0001.obs', ext: { flight_id: key.split('/')[2] } });
      }
      const [first, second] = await Promise.all(keys.map(stored));
      assert.equal(first!.fingerprint, createHash('md5').update(bytes).digest('hex').toUpperCase());
      assert.equal(second!.fingerprint, null, 'no fingerprint rather than a deleted upload');
      assert.ok(await t.app.storage.head(keys[1]!), 'the second object is still in storage');
      // A repeated report changes nothing.
      await dockCallback({ object_key: keys[1], name: 'DJI_0001.obs', ext: { flight_id: 'twin-2' } });
      assert.equal((await stored(keys[1]!)).fingerprint, null);
    });
  });
});
