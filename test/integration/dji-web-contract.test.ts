/**
 * The media list as DJI's own web front end reads it (docs/protocol.md §7.3, §7.6): every field of the
 * demo's MediaFile DTO, with its type and date format, for a Pilot upload and a dock upload side by side.
 * DJI's front end cannot be fetched here, so §7 is the acceptance.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connectDock, mqttAccountOf, type TestDock } from '../helpers/dock.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

const DJI_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

describe('DJI web API contract: media list', () => {
  let t: TestApp;
  let token: string;
  let ws: string;
  let dock: TestDock;

  before(async () => {
    ({ t, token, ws } = await startLoggedInApp());
    dock = await connectDock(
      `mqtt://127.0.0.1:${t.app.broker!.port}`,
      'CONTRACT-DOCK',
      await mqttAccountOf(t, token),
    );
    await dock.send('status', 'update_topo', {
      domain: 3,
      type: 2,
      sub_type: 0,
      sub_devices: [{ sn: 'CONTRACT-M3TD', domain: 0, type: 91, sub_type: 1 }],
    });
  });
  after(async () => {
    await dock.close();
    await t.close();
  });

  it('lists Pilot and dock media with every field DJI’s MediaFile DTO has', async () => {
    const pilotKey = `${ws}/media/mission-1/DJI_0001_W.JPG`;
    await t.app.storage.put(pilotKey, Buffer.from('pilot bytes'), { contentType: 'image/jpeg' });
    const pilot = await t.inject({
      method: 'POST',
      url: `/media/api/v1/workspaces/${ws}/upload-callback`,
      headers: { 'x-auth-token': token },
      payload: {
        result: 0,
        name: 'DJI_0001_W.JPG',
        path: 'mission-1',
        object_key: pilotKey,
        fingerprint: '91F613D796709163A519D8E5C872823D',
        sub_file_type: 0,
        ext: {
          file_group_id: 'group-1',
          drone_model_key: '0-67-0',
          payload_model_key: '1-53-0',
          is_original: true,
          tinny_fingerprint: 'tiny-1',
          sn: 'PILOT-AIRCRAFT',
        },
      },
    });
    assert.equal(pilot.json().code, 0, pilot.body);

    // Two dock files, no fingerprint from the dock: each row still gets its own.
    const dockBytes = ['dock photo one', 'dock photo two'];
    for (const [i, bytes] of dockBytes.entries()) {
      const key = `${ws}/media/flight-9/DJI_000${i + 2}_T.JPG`;
      await t.app.storage.put(key, Buffer.from(bytes), { contentType: 'image/jpeg' });
      const reply = await dock.send(
        'events',
        'file_upload_callback',
        {
          result: 0,
          file: {
            object_key: key,
            name: `DJI_000${i + 2}_T.JPG`,
            path: '',
            ext: {
              flight_id: 'flight-9',
              drone_model_key: '0-91-1',
              payload_model_key: '1-81-0',
              is_original: true,
            },
          },
        },
        { needReply: true },
      );
      assert.equal(reply?.data.result, 0);
    }

    const list = (
      await t.inject({
        method: 'GET',
        url: `/media/api/v1/files/${ws}/files?page=1&page_size=50`,
        headers: { 'x-auth-token': token },
      })
    ).json().data;
    assert.equal(list.pagination.total, 3);
    for (const row of list.list) {
      for (const field of [
        'file_id',
        'file_name',
        'file_path',
        'object_key',
        'drone',
        'payload',
        'tinny_fingerprint',
        'fingerprint',
        'job_id',
      ]) {
        assert.equal(typeof row[field], 'string', `${field} is a string`);
      }
      assert.equal(typeof row.is_original, 'boolean');
      assert.match(row.create_time, DJI_TIME);
    }
    const fingerprints = list.list.map((r: { fingerprint: string }) => r.fingerprint);
    assert.equal(new Set(fingerprints).size, 3, 'the web keys its rows by fingerprint: each is distinct');
    assert.ok(fingerprints.every((f: string) => f !== ''));

    const byName = new Map(list.list.map((r: { file_name: string }) => [r.file_name, r]));
    const fromPilot = byName.get('DJI_0001_W.JPG') as Record<string, unknown>;
    assert.equal(fromPilot.payload, 'M30T Camera', 'the payload’s name, not its key');
    assert.equal(fromPilot.file_path, 'mission-1');
    assert.equal(fromPilot.drone, 'PILOT-AIRCRAFT');
    assert.equal(fromPilot.job_id, 'group-1');
    assert.equal(fromPilot.fingerprint, '91F613D796709163A519D8E5C872823D');

    const fromDock = byName.get('DJI_0002_T.JPG') as Record<string, unknown>;
    assert.equal(fromDock.payload, 'M3TD Camera');
    assert.equal(fromDock.drone, 'CONTRACT-M3TD', 'the aircraft online under the dock');
    assert.equal(fromDock.job_id, 'flight-9');
    assert.equal(
      fromDock.fingerprint,
      createHash('md5').update(dockBytes[0]!).digest('hex').toUpperCase(),
      'a dock file’s fingerprint is its MD5 (decision §10.55)',
    );

    // And Pilot asking for that same file later finds it.
    const fast = await t.inject({
      method: 'POST',
      url: `/media/api/v1/workspaces/${ws}/fast-upload`,
      headers: { 'x-auth-token': token },
      payload: { fingerprint: String(fromDock.fingerprint).toLowerCase(), name: 'DJI_0002_T.JPG' },
    });
    assert.equal(fast.json().code, 0);
  });
});
