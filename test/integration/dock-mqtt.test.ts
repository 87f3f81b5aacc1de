import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import mqtt from 'mqtt';
import { testDialects } from '../helpers/databases.ts';
import {
  connectDock,
  type DockStorageConfig,
  dockStorageClient,
  mqttAccountOf,
  type TestDock,
} from '../helpers/dock.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

const DOCK = 'DOCK0000000000A1';
const AIRCRAFT = '1581F5BKD225D00BJ6N1';
const topology = (
  subDevices: unknown[] = [{ sn: AIRCRAFT, domain: 0, type: 67, sub_type: 0, index: 'A' }],
) => ({
  domain: 3,
  type: 1,
  sub_type: 0,
  thing_version: '1.1.2',
  sub_devices: subDevices,
});

for (const dialect of testDialects()) {
  describe(`dock over MQTT on the embedded broker (${dialect})`, () => {
    let t: TestApp;
    let ws: string;
    let url: string;
    let account: { username: string; password: string };
    let dock: TestDock;
    let adminToken: string;
    before(async () => {
      let token: string;
      ({ t, token, ws } = await startLoggedInApp({
        dialect,
        captureLogs: true,
        env: {
          SKYVAULT_DJI_APP_ID: '123456',
          SKYVAULT_DJI_APP_KEY: 'app-key',
          SKYVAULT_DJI_APP_LICENSE: 'app-licence',
          SKYVAULT_DEVICE_REPLY_TIMEOUT: '300',
          SKYVAULT_DEVICE_RETRIES: '1',
        },
      }));
      adminToken = token;
      url = `mqtt://127.0.0.1:${t.app.broker!.port}`;
      account = await mqttAccountOf(t, token);
      dock = await connectDock(url, DOCK, account);
    });
    after(async () => {
      if (process.env.DEBUG_LOGS) for (const l of t.logs) process.stderr.write(l);
      await dock.close();
      await t.close();
    });

    const mediaRows = () =>
      t.app.database.db.selectFrom('mediaFiles').selectAll().where('workspaceId', '=', ws).execute();

    it('registers the dock and its aircraft on update_topo, bound to the MQTT account workspace', async () => {
      const reply = await dock.send('status', 'update_topo', topology());
      assert.ok(reply, 'status_reply received');
      assert.equal(reply.method, 'update_topo');
      assert.equal(reply.data.result, 0);
      const gateway = await t.app.devices.find(DOCK);
      assert.equal(gateway?.workspaceId, ws);
      assert.equal(gateway?.kind, 'gateway');
      assert.equal(gateway?.modelKey, '3-1-0');
      assert.equal(gateway?.online, 1);
      const aircraft = await t.app.devices.find(AIRCRAFT);
      assert.equal(aircraft?.parentSn, DOCK);
      assert.equal(aircraft?.workspaceId, ws);
      assert.equal(aircraft?.modelKey, '0-67-0');
      assert.equal(aircraft?.online, 1);

      assert.equal((await dock.send('status', 'update_topo', topology([])))?.data.result, 0);
      assert.equal((await t.app.devices.find(AIRCRAFT))?.online, 0, 'no sub-device: the aircraft is offline');
      await dock.send('status', 'update_topo', topology());
    });

    it('refuses storage credentials for a module other than media, and reads "0" as media', async () => {
      const logs = await dock.send('requests', 'storage_config_get', { module: 1 });
      assert.equal(logs?.data.result, 314002);
      assert.deepEqual(logs?.data.output, {});
      const asText = await dock.send('requests', 'storage_config_get', { module: '0' });
      assert.equal(asText?.data.result, 0);
      const without = await dock.send('requests', 'storage_config_get', {});
      assert.equal(without?.data.result, 0);
    });

    it('gives upload credentials, records the uploaded file once, and acknowledges every report', async () => {
      const reply = await dock.send('requests', 'storage_config_get', { module: 0 });
      assert.equal(reply?.method, 'storage_config_get');
      assert.equal(reply?.data.result, 0);
      const output = reply!.data.output as DockStorageConfig;
      assert.equal(output.object_key_prefix, `${ws}/media`);
      assert.equal(output.provider, 'minio');
      const key = `${output.object_key_prefix}/flight-1/DJI_20260101120000_0001_W.JPG`;
      // The credentials as a dock uses them (S3 client of the storage_config_get answer).
      const s3 = dockStorageClient(output);
      await s3.send(
        new PutObjectCommand({
          Bucket: output.bucket,
          Key: key,
          Body: 'dock photo',
          ContentType: 'image/jpeg',
        }),
      );
      const callback = {
        result: 0,
        progress: 100,
        file: {
          object_key: key,
          path: '',
          name: 'DJI_20260101120000_0001_W.JPG',
          cloud_to_cloud_id: 'DEFAULT',
          ext: {
            flight_id: 'flight-1',
            drone_model_key: '0-67-0',
            payload_model_key: '1-53-0',
            is_original: 1,
          },
          metadata: {
            absolute_altitude: '56.311',
            relative_altitude: 41.124,
            gimbal_yaw_degree: '-91.40',
            create_time: '2021-05-10 16:04:20',
            shoot_position: { lat: 22.1, lng: 113.9 },
          },
        },
      };
      const ack = await dock.send('events', 'file_upload_callback', callback, { needReply: true });
      assert.deepEqual(ack?.data, { result: 0 });
      assert.equal(ack?.method, 'file_upload_callback');
      // A redelivered event (same message again) is harmless.
      assert.deepEqual(
        (await dock.send('events', 'file_upload_callback', callback, { needReply: true }))?.data,
        {
          result: 0,
        },
      );
      const rows = (await mediaRows()).filter((r) => r.objectKey === key);
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.source, 'dock');
      assert.equal(row.droneSn, AIRCRAFT, 'the aircraft online under the dock');
      assert.equal(row.fileGroupId, 'flight-1');
      assert.equal(row.path, `${ws}/media/flight-1`, 'the key directory when the dock sends no path');
      assert.equal(row.gimbalYawDegree, -91.4);
      assert.equal(row.absoluteAltitude, 56.311);
      assert.equal(row.capturedAtRaw, '2021-05-10 16:04:20');
      assert.equal(row.latitude, 22.1);
      const group = await t.app.database.db
        .selectFrom('fileGroups')
        .selectAll()
        .where('workspaceId', '=', ws)
        .where('id', '=', 'flight-1')
        .executeTakeFirst();
      assert.equal(group?.gatewaySn, DOCK);

      // A sidecar without metadata is accepted; a key outside the prefix is refused but still acknowledged.
      const sidecar = `${ws}/media/flight-1/DJI_20260101120000_0001.obs`;
      await s3.send(new PutObjectCommand({ Bucket: output.bucket, Key: sidecar, Body: 'ppk' }));
      s3.destroy();
      const sidecarAck = await dock.send(
        'events',
        'file_upload_callback',
        {
          file: { object_key: sidecar, name: 'DJI_20260101120000_0001.obs', ext: { flight_id: 'flight-1' } },
        },
        { needReply: true },
      );
      assert.equal(sidecarAck?.data.result, 0);
      assert.equal((await mediaRows()).find((r) => r.objectKey === sidecar)?.mediaType, 'other');
      const outside = await dock.send(
        'events',
        'file_upload_callback',
        { file: { object_key: 'elsewhere/x.jpg', name: 'x.jpg' } },
        { needReply: true },
      );
      assert.equal(outside?.data.result, 0);
      assert.equal(
        (await mediaRows()).some((r) => r.objectKey === 'elsewhere/x.jpg'),
        false,
      );
      assert.ok(t.logs.some((l) => l.includes('dock media report refused')));
    });

    it("handles one dock's messages in order, even when sent without waiting", async () => {
      const key = `${ws}/media/ordered/DJI_0003.JPG`;
      await t.app.storage.put(key, Buffer.from('ordered photo'), { contentType: 'image/jpeg' });
      await dock.send('status', 'update_topo', topology([]));
      const [, ack] = await Promise.all([
        dock.send('status', 'update_topo', topology()),
        dock.send(
          'events',
          'file_upload_callback',
          { file: { object_key: key, name: 'DJI_0003.JPG' } },
          { needReply: true },
        ),
      ]);
      assert.deepEqual(ack?.data, { result: 0 });
      assert.equal(
        (await mediaRows()).find((r) => r.objectKey === key)?.droneSn,
        AIRCRAFT,
        'the aircraft announced just before',
      );
    });

    it("counts a flight's expected media from flighttask_progress, before or after its uploads", async () => {
      const progress = (flightId: string, mediaCount: number) =>
        dock.client.publishAsync(
          `thing/product/${DOCK}/events`,
          JSON.stringify({
            tid: `tid-${flightId}-${mediaCount}`,
            bid: 'task-bid',
            timestamp: Date.now(),
            gateway: DOCK,
            method: 'flighttask_progress',
            need_reply: 0,
            data: {
              result: 0,
              output: {
                status: 'ok',
                progress: { percent: 100 },
                ext: { flight_id: flightId, media_count: mediaCount },
              },
            },
          }),
          { qos: 1 },
        );
      await progress('flight-1', 2);
      // The demo's way: no ext.flight_id, the task's bid is the flight id.
      await dock.client.publishAsync(
        `thing/product/${DOCK}/events`,
        JSON.stringify({
          tid: 'tid-bid',
          bid: 'flight-by-bid',
          timestamp: Date.now(),
          method: 'flighttask_progress',
          data: { result: 0, output: { status: 'ok', ext: { media_count: '5' } } },
        }),
        { qos: 1 },
      );
      // `ext` directly in `data`, as one of DJI's tables has it.
      await dock.client.publishAsync(
        `thing/product/${DOCK}/events`,
        JSON.stringify({
          tid: 'tid-flat',
          bid: 'flat-bid',
          timestamp: Date.now(),
          method: 'flighttask_progress',
          data: { result: 0, status: 'ok', ext: { flight_id: 'flight-flat', media_count: 3 } },
        }),
        { qos: 1 },
      );
      // Ordered after the progress events: once this is answered, they were handled.
      await dock.send('status', 'update_topo', topology());
      const groups = (
        await t.inject({
          method: 'GET',
          url: `/media/api/v1/files/${ws}/groups`,
          headers: { 'x-auth-token': adminToken },
        })
      ).json().data.list as {
        file_group_id: string;
        expected_count: number;
        stored_count: number;
        complete: boolean;
      }[];
      const flight = groups.find((g) => g.file_group_id === 'flight-1')!;
      assert.equal(flight.expected_count, 2);
      assert.equal(flight.stored_count, 2, 'the photo and its PPK sidecar recorded earlier');
      assert.equal(flight.complete, true);
      assert.equal(groups.find((g) => g.file_group_id === 'flight-by-bid')?.expected_count, 5);
      assert.equal(groups.find((g) => g.file_group_id === 'flight-flat')?.expected_count, 3);
    });

    it('records the upload priority, the first event included', async () => {
      const ack = await dock.send(
        'events',
        'highest_priority_upload_flighttask_media',
        { flight_id: 'flight-2' },
        { needReply: true },
      );
      assert.deepEqual(ack?.data, { result: 0 });
      const group = await t.app.database.db
        .selectFrom('fileGroups')
        .selectAll()
        .where('workspaceId', '=', ws)
        .where('id', '=', 'flight-2')
        .executeTakeFirst();
      assert.ok(group?.prioritizedAt);
      assert.equal(group?.gatewaySn, DOCK);
      const silent = await dock.send(
        'events',
        'highest_priority_upload_flighttask_media',
        { flight_id: 'x' },
        {
          needReply: false,
          timeoutMs: 300,
        },
      );
      assert.equal(silent, undefined, 'no events_reply when need_reply is 0');
    });

    it('keeps the media of a gateway not bound yet, and records it once the gateway is bound', async () => {
      const fresh = await connectDock(url, 'DOCK-NOT-YET-SEEN', account);
      const key = `${ws}/media/early/DJI_0002.JPG`;
      await t.app.storage.put(key, Buffer.from('early photo'), { contentType: 'image/jpeg' });
      const ack = await fresh.send(
        'events',
        'file_upload_callback',
        { file: { object_key: key, name: 'DJI_0002.JPG' } },
        { needReply: true },
      );
      assert.deepEqual(ack?.data, { result: 0 });
      assert.equal(
        (await mediaRows()).some((r) => r.objectKey === key),
        false,
        'no workspace yet',
      );
      const pending = await t.app.database.db.selectFrom('pendingDeviceReports').selectAll().execute();
      assert.equal(pending.filter((p) => p.gatewaySn === 'DOCK-NOT-YET-SEEN').length, 1);
      assert.equal((await fresh.send('status', 'update_topo', topology([])))?.data.result, 0);
      assert.equal((await mediaRows()).find((r) => r.objectKey === key)?.source, 'dock');
      assert.equal(
        (await t.app.database.db.selectFrom('pendingDeviceReports').selectAll().execute()).length,
        0,
      );
      await fresh.close();
    });

    const api = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
      t.inject({ method, url, headers: { 'x-auth-token': adminToken }, ...(payload ? { payload } : {}) });

    it('answers the licence request in both documented forms', async () => {
      const reply = await dock.send('requests', 'config', { config_type: 'json', config_scope: 'product' });
      assert.equal(reply?.data.result, 0);
      for (const fields of [reply!.data, reply!.data.output!]) {
        assert.equal(fields.app_id, '123456');
        assert.equal(fields.app_key, 'app-key');
        assert.equal(fields.app_license, 'app-licence');
        assert.equal(fields.ntp_server_host, 'pool.ntp.org');
        assert.equal(fields.ntp_server_port, 123);
      }
    });

    it('binds docks through the organization requests, with the workspace bind code only', async () => {
      const workspace = (await api('GET', '/manage/api/v1/workspaces/current')).json().data;
      const status = await dock.send('requests', 'airport_bind_status', {
        devices: [{ sn: DOCK }, { sn: AIRCRAFT }, { sn: 'NEVER-SEEN' }],
      });
      const bindStatus = status?.data.output?.bind_status as {
        sn: string;
        is_device_bind_organization: boolean;
      }[];
      assert.deepEqual(
        bindStatus.map((b) => [b.sn, b.is_device_bind_organization]),
        [
          [DOCK, true],
          [AIRCRAFT, true],
          ['NEVER-SEEN', false],
        ],
      );
      const named = await dock.send('requests', 'airport_organization_get', {
        device_binding_code: workspace.bind_code,
        organization_id: ws,
      });
      assert.deepEqual(named?.data, { result: 0, output: { organization_name: workspace.workspace_name } });
      const wrong = await dock.send('requests', 'airport_organization_get', {
        device_binding_code: 'not-the-code',
        organization_id: ws,
      });
      assert.notEqual(wrong?.data.result, 0);
      const bind = await dock.send('requests', 'airport_organization_bind', {
        bind_devices: [
          {
            device_binding_code: workspace.bind_code,
            organization_id: ws,
            device_callsign: 'Roof dock',
            sn: DOCK,
            device_model_key: '3-1-0',
          },
          {
            device_binding_code: 'not-the-code',
            organization_id: ws,
            device_callsign: 'x',
            sn: 'OTHER-SN',
            device_model_key: '0-67-0',
          },
        ],
      });
      assert.equal(bind?.data.result, 0);
      assert.deepEqual(bind?.data.output, { err_infos: [{ sn: 'OTHER-SN', err_code: 210001 }] });
      assert.equal((await t.app.devices.find(DOCK))?.callsign, 'Roof dock');
      assert.equal(await t.app.devices.find('OTHER-SN'), undefined);
    });

    it('lists the bound devices for the web, with their aircraft and online state', async () => {
      // Devices report their firmware as a state property (no reply): the list shows it.
      await dock.client.publishAsync(
        `thing/product/${DOCK}/state`,
        JSON.stringify({
          tid: 'fw-1',
          bid: 'fw-1',
          timestamp: Date.now(),
          data: { firmware_version: '10.01.16.04' },
        }),
        { qos: 1 },
      );
      for (let i = 0; i < 100 && (await t.app.devices.find(DOCK))?.firmwareVersion !== '10.01.16.04'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const list = (
        await api('GET', `/manage/api/v1/devices/${ws}/devices/bound?page=1&page_size=50`)
      ).json();
      assert.equal(list.code, 0);
      const docked = list.data.list.find((d: { device_sn: string }) => d.device_sn === DOCK);
      assert.equal(docked.status, true);
      assert.equal(docked.bound_status, true);
      assert.equal(docked.nickname, 'Roof dock');
      assert.equal(docked.child_device_sn, AIRCRAFT);
      // DJI's DeviceDTO (docs/protocol.md §7.6): the model's name, times as text, one child object.
      assert.equal(docked.device_name, 'DJI Dock');
      assert.equal(docked.firmware_version, '10.01.16.04');
      assert.equal(docked.device_model_key, '3-1-0');
      assert.equal(docked.workspace_id, ws);
      assert.equal(docked.workspace_name, 'Default workspace');
      assert.match(docked.bound_time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.match(docked.login_time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.equal(docked.parent_sn, undefined, 'null keys are left out');
      assert.equal(Array.isArray(docked.children), false);
      assert.equal(docked.children.device_sn, AIRCRAFT);
      assert.equal(docked.children.device_name, 'Matrice 30');
      assert.equal(docked.children.device_model_key, '0-67-0');
      assert.equal(docked.children.parent_sn, DOCK);

      // The map and the device panel: every aircraft with its gateway.
      const topology = (await api('GET', `/manage/api/v1/devices/${ws}/devices`)).json();
      assert.equal(topology.code, 0);
      const aircraft = topology.data.find((d: { device_sn: string }) => d.device_sn === AIRCRAFT);
      assert.equal(aircraft.device_name, 'Matrice 30');
      assert.equal(aircraft.domain, 0);
      assert.deepEqual(
        aircraft.gateways_list.map((g: { device_sn: string; device_name: string }) => [
          g.device_sn,
          g.device_name,
        ]),
        [[DOCK, 'DJI Dock']],
      );
      assert.deepEqual(aircraft.payloads_list, []);
      assert.equal((await api('GET', `/manage/api/v1/devices/not-${ws}/devices`)).statusCode, 403);
      const aircraftOnly = (await api('GET', `/manage/api/v1/devices/${ws}/devices/bound?domain=0`)).json()
        .data;
      assert.ok(aircraftOnly.list.length > 0);
      assert.ok(aircraftOnly.list.every((d: { domain: number }) => d.domain === 0));
      const one = (await api('GET', `/manage/api/v1/devices/${ws}/devices/${DOCK}`)).json();
      assert.equal(one.data.device_sn, DOCK);
      const missing = await api('GET', `/manage/api/v1/devices/${ws}/devices/NOPE`);
      assert.equal(missing.statusCode, 404);
      const otherWorkspace = await api('GET', `/manage/api/v1/devices/not-${ws}/devices/bound`);
      assert.equal(otherWorkspace.statusCode, 403);
    });

    it("binds and unbinds a remote controller through the H5 page's calls", async () => {
      const rc = await connectDock(url, 'RC-PILOT-1', account);
      await rc.send('status', 'update_topo', { domain: 2, type: 144, sub_type: 0, sub_devices: [] });
      // Auto-bound on first contact; unbind, then bind again as the H5 page does.
      const unbind = await api('DELETE', '/manage/api/v1/devices/RC-PILOT-1/unbinding');
      assert.equal(unbind.json().code, 0, unbind.body);
      assert.equal((await t.app.devices.find('RC-PILOT-1'))?.workspaceId, null);
      await rc.send('status', 'update_topo', { domain: 2, type: 144, sub_type: 0, sub_devices: [] });
      assert.equal(
        (await t.app.devices.find('RC-PILOT-1'))?.workspaceId,
        null,
        'unbound on purpose stays unbound',
      );
      const bind = await api('POST', '/manage/api/v1/devices/RC-PILOT-1/binding', {
        device_sn: 'RC-PILOT-1',
        user_id: 'whoever',
        workspace_id: ws,
      });
      assert.equal(bind.json().code, 0, bind.body);
      assert.equal((await t.app.devices.find('RC-PILOT-1'))?.workspaceId, ws);
      const elsewhere = await api('POST', '/manage/api/v1/devices/RC-PILOT-1/binding', {
        workspace_id: 'other-ws',
      });
      assert.equal(elsewhere.statusCode, 403);
      const unseen = await api('POST', '/manage/api/v1/devices/NEVER-CONNECTED/binding', {});
      assert.equal(unseen.json().code, -1);
      assert.match(unseen.json().message, /has not connected/);
      assert.equal((await api('DELETE', '/manage/api/v1/devices/NEVER-CONNECTED/unbinding')).statusCode, 404);
      await rc.close();
    });

    it('asks the dock to upload a flight first, and says so when the dock does not answer', async () => {
      type Service = { tid: string; bid: string; method: string; data: Record<string, unknown> };
      const services: Service[] = [];
      const answering = (result: number | undefined) => (topic: string, payload: Buffer) => {
        if (!topic.endsWith('/services')) return;
        const request = JSON.parse(payload.toString()) as Service;
        services.push(request);
        if (result === undefined) return;
        const reply = {
          tid: request.tid,
          bid: request.bid,
          method: request.method,
          timestamp: 1,
          data: { result },
        };
        dock.client.publish(`thing/product/${DOCK}/services_reply`, JSON.stringify(reply));
      };
      await dock.client.subscribeAsync(`thing/product/${DOCK}/services`, { qos: 1 });
      const call = () => api('POST', `/wayline/api/v1/workspaces/${ws}/jobs/flight-1/media-highest`);

      const accept = answering(0);
      dock.client.on('message', accept);
      const accepted = await call();
      dock.client.off('message', accept);
      assert.equal(accepted.json().code, 0, accepted.body);
      assert.equal(services.at(-1)?.method, 'upload_flighttask_media_prioritize');
      assert.deepEqual(services.at(-1)?.data, { flight_id: 'flight-1' });

      const refuse = answering(314002);
      dock.client.on('message', refuse);
      const refused = await call();
      dock.client.off('message', refuse);
      assert.equal(refused.statusCode, 502);
      assert.match(refused.json().message, /314002/);

      const silent = answering(undefined);
      dock.client.on('message', silent);
      const before = services.length;
      const timedOut = await call();
      dock.client.off('message', silent);
      assert.equal(timedOut.statusCode, 504);
      assert.equal(timedOut.json().code, 211001);
      const attempts = services.slice(before);
      assert.equal(attempts.length, 2, 'sent once and retried once (SKYVAULT_DEVICE_RETRIES=1)');
      assert.notEqual(attempts[0]!.tid, attempts[1]!.tid, 'a new tid per attempt');
      assert.equal(attempts[0]!.bid, attempts[1]!.bid, 'the same bid');

      const unknown = await api('POST', `/wayline/api/v1/workspaces/${ws}/jobs/no-such-flight/media-highest`);
      assert.equal(unknown.statusCode, 404);
    });

    it('answers requests and status messages it has no handler for, so devices do not retry forever', async () => {
      const request = await dock.send('requests', 'flight_areas_get', {});
      assert.equal(request?.method, 'flight_areas_get');
      assert.deepEqual(request?.data, { result: 1, output: {} });
      const status = await dock.send('status', 'some_future_status', {});
      assert.equal(status?.data.result, 0);
    });

    it('ignores malformed, empty and huge payloads with a log line, and handles the next message', async () => {
      for (const raw of ['', 'not json', '[1,2]', '{"method":"update_topo"}', 'x'.repeat(2 * 1024 * 1024)]) {
        const reply = await dock.send('status', 'update_topo', {}, { raw, timeoutMs: 200 });
        assert.equal(reply, undefined);
      }
      // The log lines come as the broker gets to each message: on a loaded machine, after the 200 ms above.
      const logged = async (text: string) => {
        for (let waited = 0; !t.logs.some((l) => l.includes(text)); waited += 50) {
          assert.ok(waited < 10_000, `a log line says "${text}"`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      await logged('MQTT message ignored: payload is not JSON');
      await logged('MQTT message ignored: empty payload');
      await logged('is over the limit');
      assert.equal((await dock.send('status', 'update_topo', topology()))?.data.result, 0);
    });

    it('refuses wrong passwords and holds each connection to its own gateway, over MQTT 3.1.1 and 5', async () => {
      await assert.rejects(
        mqtt.connectAsync(url, { username: account.username, password: 'wrong', reconnectPeriod: 0 }, false),
        /Bad username or password|Not authorized/i,
      );
      for (const version of [4, 5] as const) {
        const other = await connectDock(url, `OTHER-DOCK-${version}`, account, version);
        const granted = await other.client
          .subscribeAsync([`thing/product/${DOCK}/services`, 'thing/product/+/services'], { qos: 1 })
          .catch((error: { packet?: { granted: number[] } }) => error.packet?.granted);
        assert.deepEqual(
          (granted as { qos: number }[] | number[]).map((g) => (typeof g === 'number' ? g : g.qos) >= 128),
          [true, true],
          `MQTT ${version}: another dock's topic and wildcards are refused (0x80, or 0x87 on MQTT 5)`,
        );
        // MQTT 3.1.1 has no negative PUBACK: the broker closes the connection. MQTT 5 answers 0x87.
        const refused = await new Promise<string>((resolve) => {
          other.client.once('close', () => resolve('closed'));
          other.client.publish(
            `thing/product/${DOCK}/events`,
            '{"tid":"x","method":"file_upload_callback"}',
            { qos: 1 },
            (error) => resolve(error ? error.message : 'accepted'),
          );
        });
        assert.match(refused, version === 4 ? /closed/i : /Not authorized/, `MQTT ${version}`);
        await other.client.endAsync(true);
      }
      assert.ok(t.logs.some((l) => l.includes('MQTT publish refused')));
      assert.equal(
        (await dock.send('status', 'update_topo', topology()))?.data.result,
        0,
        'the dock is unaffected',
      );
    });

    it("refuses another workspace's account posing as a dock bound elsewhere", async () => {
      const otherWs = await createWorkspace(t.app.database.db, 'Neighbours');
      await createUser(t.app.database.db, otherWs, 'neighbour');
      const impostor = {
        client: await mqtt.connectAsync(
          url,
          {
            username: 'mqtt-neighbour',
            password: 'mqtt-pass-neighbour',
            protocolVersion: 5,
            reconnectPeriod: 0,
          },
          false,
        ),
      };
      const granted = await impostor.client
        .subscribeAsync(`thing/product/${DOCK}/requests_reply`, { qos: 1 })
        .catch((error: { packet?: { granted: number[] } }) => error.packet?.granted);
      assert.ok(
        (granted as ({ qos: number } | number)[]).every((g) => (typeof g === 'number' ? g : g.qos) >= 128),
        'subscription refused',
      );
      const refused = await new Promise<string>((resolve) => {
        impostor.client.publish(
          `thing/product/${DOCK}/requests`,
          JSON.stringify({ tid: 't', bid: 'b', method: 'storage_config_get', data: { module: 0 } }),
          { qos: 1 },
          (error) => resolve(error ? error.message : 'accepted'),
        );
      });
      assert.match(refused, /Not authorized/);
      assert.ok(t.logs.some((l) => l.includes(`${DOCK} is bound to another workspace`)));

      // Nor can a dock of the other workspace open our aircraft's topics by announcing it.
      const theirDock = await connectDock(url, 'NEIGHBOUR-DOCK', {
        username: 'mqtt-neighbour',
        password: 'mqtt-pass-neighbour',
      });
      await theirDock.send('status', 'update_topo', topology());
      const aircraftTopic = await new Promise<string>((resolve) => {
        theirDock.client.publish(
          `thing/product/${AIRCRAFT}/events`,
          '{"tid":"t","method":"x"}',
          { qos: 1 },
          (error) => resolve(error ? error.message : 'accepted'),
        );
      });
      assert.match(aircraftTopic, /Not authorized/);
      assert.ok(t.logs.some((l) => l.includes('a sub-device bound to another workspace is not opened')));
      const aircraft = await t.app.devices.find(AIRCRAFT);
      assert.equal(aircraft?.workspaceId, ws, 'announcing our aircraft does not take it over');
      assert.equal(aircraft?.parentSn, DOCK);

      // Its binding code binds its own devices only, and it learns nothing about ours.
      const neighbourCode = (
        await t.app.database.db
          .selectFrom('workspaces')
          .select('bindCode')
          .where('id', '=', otherWs)
          .executeTakeFirstOrThrow()
      ).bindCode;
      const grab = await theirDock.send('requests', 'airport_organization_bind', {
        bind_devices: [
          {
            device_binding_code: neighbourCode,
            organization_id: otherWs,
            sn: DOCK,
            device_model_key: '3-1-0',
          },
        ],
      });
      assert.deepEqual(grab?.data.output, { err_infos: [{ sn: DOCK, err_code: 210003 }] });
      assert.equal((await t.app.devices.find(DOCK))?.workspaceId, ws);
      const peek = await theirDock.send('requests', 'airport_bind_status', { devices: [{ sn: DOCK }] });
      assert.deepEqual(peek?.data.output?.bind_status, [
        {
          sn: DOCK,
          is_device_bind_organization: false,
          organization_id: '',
          organization_name: '',
          device_callsign: '',
        },
      ]);
      await theirDock.client.endAsync(true);
      await impostor.client.endAsync(true);
    });

    it('marks a gateway and its aircraft offline when its connection ends', async () => {
      const brief = await connectDock(url, 'DOCK-BRIEF', account);
      await brief.send(
        'status',
        'update_topo',
        topology([{ sn: 'AIRCRAFT-BRIEF', domain: 0, type: 67, sub_type: 0 }]),
      );
      assert.equal((await t.app.devices.find('DOCK-BRIEF'))?.online, 1);
      await brief.close();
      for (let i = 0; i < 50 && (await t.app.devices.find('DOCK-BRIEF'))?.online !== 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal((await t.app.devices.find('DOCK-BRIEF'))?.online, 0);
      assert.equal((await t.app.devices.find('AIRCRAFT-BRIEF'))?.online, 0);
    });
  });
}
