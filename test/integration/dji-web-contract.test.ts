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

/** Asserts `value` has these fields, each of this JSON type (Skyvault may add more). */
function hasFields(value: Record<string, unknown>, fields: Record<string, string>, label: string): void {
  for (const [name, type] of Object.entries(fields)) {
    assert.ok(name in value, `${label}: ${name} is there`);
    assert.equal(typeof value[name], type, `${label}: ${name} is a ${type}`);
  }
}

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

  it('answers the session, workspace and users calls in DJI’s shapes (§7.1)', async () => {
    const headers = { 'x-auth-token': token };
    const login = (
      await t.inject({
        method: 'POST',
        url: '/manage/api/v1/login',
        payload: { username: 'admin', password: 'test-admin-password', flag: 1 },
      })
    ).json();
    assert.equal(login.code, 0);
    const session = {
      user_id: 'string',
      username: 'string',
      workspace_id: 'string',
      user_type: 'number',
      mqtt_username: 'string',
      mqtt_password: 'string',
      mqtt_addr: 'string',
    };
    hasFields(login.data, { ...session, access_token: 'string' }, 'login');
    assert.match(login.data.mqtt_addr, /^tcp:\/\/[^/]+:\d+$/);

    const refreshed = (
      await t.inject({ method: 'POST', url: '/manage/api/v1/token/refresh', headers, payload: {} })
    ).json();
    hasFields(refreshed.data, { ...session, access_token: 'string' }, 'refresh');

    const current = (await t.inject({ method: 'GET', url: '/manage/api/v1/users/current', headers })).json();
    hasFields(current.data, session, 'users/current');

    const workspace = (
      await t.inject({ method: 'GET', url: '/manage/api/v1/workspaces/current', headers })
    ).json();
    hasFields(
      workspace.data,
      // The demo also sends its table's integer row id, `id`; Skyvault has none, and DJI's pages read
      // workspace_id.
      {
        workspace_id: 'string',
        workspace_name: 'string',
        workspace_desc: 'string',
        platform_name: 'string',
        bind_code: 'string',
      },
      'workspaces/current',
    );

    const users = (
      await t.inject({ method: 'GET', url: `/manage/api/v1/users/${ws}/users`, headers })
    ).json();
    hasFields(users.data.pagination, { page: 'number', page_size: 'number', total: 'number' }, 'pagination');
    for (const user of users.data.list) {
      hasFields(
        user,
        {
          user_id: 'string',
          username: 'string',
          workspace_name: 'string',
          user_type: 'number',
          mqtt_username: 'string',
          mqtt_password: 'string',
          create_time: 'string',
        },
        'users list',
      );
      assert.match(user.create_time, DJI_TIME);
    }
  });

  it('answers the device calls in DJI’s DeviceDTO shape (§7.6)', async () => {
    const headers = { 'x-auth-token': token };
    const device = {
      device_sn: 'string',
      device_name: 'string',
      nickname: 'string',
      workspace_id: 'string',
      workspace_name: 'string',
      domain: 'number',
      type: 'number',
      sub_type: 'number',
      status: 'boolean',
      bound_status: 'boolean',
      bound_time: 'string',
      login_time: 'string',
    };
    const bound = (
      await t.inject({ method: 'GET', url: `/manage/api/v1/devices/${ws}/devices/bound?domain=3`, headers })
    ).json();
    const dockDto = bound.data.list.find((d: { device_sn: string }) => d.device_sn === 'CONTRACT-DOCK');
    hasFields(dockDto, { ...device, child_device_sn: 'string', children: 'object' }, 'bound dock');
    assert.equal(dockDto.device_name, 'DJI Dock 2');
    hasFields(dockDto.children, { ...device, parent_sn: 'string' }, 'bound dock child');
    assert.equal(dockDto.children.device_name, 'Matrice 3TD');
    assert.match(dockDto.bound_time, DJI_TIME);

    const one = (
      await t.inject({ method: 'GET', url: `/manage/api/v1/devices/${ws}/devices/CONTRACT-M3TD`, headers })
    ).json();
    hasFields(one.data, { ...device, parent_sn: 'string' }, 'one device');

    const topology = (
      await t.inject({ method: 'GET', url: `/manage/api/v1/devices/${ws}/devices`, headers })
    ).json();
    assert.equal(Array.isArray(topology.data), true);
    const aircraft = topology.data.find((d: { device_sn: string }) => d.device_sn === 'CONTRACT-M3TD');
    hasFields(aircraft, { ...device, gateways_list: 'object', payloads_list: 'object' }, 'topology');
    assert.equal(aircraft.gateways_list[0].device_sn, 'CONTRACT-DOCK');
  });

  it('downloads a file by redirecting to a presigned URL (§7.3)', async () => {
    const list = (
      await t.inject({
        method: 'GET',
        url: `/media/api/v1/files/${ws}/files`,
        headers: { 'x-auth-token': token },
      })
    ).json().data.list;
    const res = await t.inject({
      method: 'GET',
      url: `/media/api/v1/files/${ws}/file/${list[0].file_id}/url`,
      headers: { 'x-auth-token': token },
    });
    assert.equal(res.statusCode, 302);
    assert.match(String(res.headers.location), /X-Amz-Signature=/);
  });
});
