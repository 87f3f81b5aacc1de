/**
 * Keys that are not what they look like (issue 13, hole 4), at every place a device names a key that
 * Skyvault then records or serves: Pilot's upload-callback (HTTP), the dock's file_upload_callback (MQTT)
 * and the keys docks report for log uploads. `<ws>/media/../../<other>/media/x` starts with the
 * workspace's prefix, and `<ws>/media//x` looks like `<ws>/media/x`: both are refused (ObjectKeyInvalid),
 * with `.` segments, empty segments, control characters and keys of more than 1,024 bytes, and nothing is
 * recorded, even when an object is stored under that very key (stored before the store refused them).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { testDialects } from '../helpers/databases.ts';
import {
  connectDock,
  dockTopology,
  mqttAccountOf,
  type ServiceMessage,
  type ServiceScript,
  sendProgress,
  serveServices,
  type TestDock,
} from '../helpers/dock.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';
import { until } from '../helpers/wait.ts';

const DOCK = 'DOCKKEYS00000001';
const AIRCRAFT = '1581F5BKD225D00KEY1';
const topology = dockTopology(AIRCRAFT);

/** Bad keys under the workspace's media prefix `p` (each one starts with `p/`). */
const badKeys = (p: string): [string, string][] => [
  ['escape to another workspace', `${p}/../../other-workspace/media/x.jpg`],
  ['dot-dot segment', `${p}/flight/../x.jpg`],
  ['dot segment', `${p}/./x.jpg`],
  ['double slash', `${p}//x.jpg`],
  ['trailing slash', `${p}/dir/`],
  ['NUL', `${p}/x\u0000.jpg`],
  ['newline', `${p}/x\n.jpg`],
  ['DEL', `${p}/x\u007f.jpg`],
  ['lone surrogate (not UTF-8)', `${p}/x\ud800.jpg`],
  ['more than 1,024 bytes', `${p}/${'é'.repeat(520)}.jpg`],
];

for (const dialect of testDialects()) {
  describe(`object keys named by devices (${dialect})`, () => {
    let t: TestApp;
    let ws: string;
    let token: string;
    let url: string;
    let dock: TestDock;
    let received: ServiceMessage[];
    const script: ServiceScript = {};
    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({
        dialect,
        captureLogs: true,
        env: { SKYVAULT_DEVICE_REPLY_TIMEOUT: '500', SKYVAULT_DEVICE_RETRIES: '1' },
      }));
      url = `mqtt://127.0.0.1:${t.app.broker!.port}`;
      dock = await connectDock(url, DOCK, await mqttAccountOf(t, token));
      received = await serveServices(dock, script);
      assert.equal((await dock.send('status', 'update_topo', topology))?.data.result, 0);
    });
    after(async () => {
      if (process.env.DEBUG_LOGS) for (const l of t.logs) process.stderr.write(l);
      await dock.close();
      await t.close();
    });

    const db = () => t.app.database.db;
    const mediaKeys = async () =>
      (await db().selectFrom('mediaFiles').select('objectKey').where('workspaceId', '=', ws).execute()).map(
        (r) => r.objectKey,
      );
    const failureKeys = async () =>
      (await db().selectFrom('mediaUploadFailures').select('objectKey').execute()).map((r) => r.objectKey);
    /** Stores bytes under `key` in the store itself: an object that got there before the store's rule. */
    const plant = async (key: string, body: string) => {
      const store = t.app.embeddedStore!.store;
      const tmpPath = store.tmpPath();
      writeFileSync(tmpPath, body);
      const md5Hex = createHash('md5').update(body).digest('hex');
      await store.putObject(
        key,
        { tmpPath, size: Buffer.byteLength(body), md5Hex },
        'image/jpeg',
        Date.now(),
      );
    };
    const pilotCallback = (objectKey: string, result = 0) =>
      t.inject({
        method: 'POST',
        url: `/media/api/v1/workspaces/${ws}/upload-callback`,
        headers: { 'x-auth-token': token },
        payload: {
          result,
          name: 'x.jpg',
          path: 'flight',
          object_key: objectKey,
          fingerprint: `fp-${createHash('md5').update(objectKey).digest('hex')}`,
        },
      });

    it("refuses them in Pilot's upload-callback and records nothing, not even a failure", async () => {
      const good = `${ws}/media/flight/DJI_0001.JPG`;
      await plant(good, 'a photo');
      const ok = await pilotCallback(good);
      assert.equal(ok.json().code, 0, ok.body);
      for (const [name, key] of badKeys(`${ws}/media`)) {
        await plant(key, `photo under a ${name} key`);
        const response = await pilotCallback(key);
        assert.equal(response.statusCode, 400, `${name}: ${response.body}`);
        assert.equal(response.json().code, 100400, name);
        assert.match(response.json().message, /object key/i, name);
        const failed = await pilotCallback(key, 3);
        assert.equal(failed.json().code, 100400, `${name}, failed upload: ${failed.body}`);
      }
      assert.deepEqual(await mediaKeys(), [good]);
      assert.deepEqual(await failureKeys(), []);
    });

    it("refuses them in the dock's file_upload_callback: acknowledged, logged, nothing recorded or kept", async () => {
      const before = await mediaKeys();
      for (const [name, key] of badKeys(`${ws}/media`)) {
        await plant(key, `dock photo under a ${name} key`);
        const ack = await dock.send(
          'events',
          'file_upload_callback',
          { result: 0, file: { object_key: key, name: 'x.jpg', ext: { flight_id: 'flight-keys' } } },
          { needReply: true },
        );
        assert.deepEqual(ack?.data, { result: 0 }, name);
      }
      assert.deepEqual(await mediaKeys(), before);
      assert.ok(t.logs.some((l) => l.includes('dock media report refused') && l.includes('object key')));

      // A gateway not bound yet keeps reports for later: not these.
      const fresh = await connectDock(url, 'DOCKKEYS-UNBOUND', await mqttAccountOf(t, token));
      const ack = await fresh.send(
        'events',
        'file_upload_callback',
        { file: { object_key: `${ws}/media/../../other-workspace/media/y.jpg`, name: 'y.jpg' } },
        { needReply: true },
      );
      assert.deepEqual(ack?.data, { result: 0 });
      const pending = await db()
        .selectFrom('pendingDeviceReports')
        .selectAll()
        .where('gatewaySn', '=', 'DOCKKEYS-UNBOUND')
        .execute();
      assert.equal(pending.length, 0, 'nothing kept to record once bound');
      await fresh.close();
    });

    it('never serves a log file under a reported key that is not a valid key', async () => {
      const before = received.length;
      const started = await t.inject({
        method: 'POST',
        url: `/manage/api/v1/workspaces/${ws}/devices/${DOCK}/logs`,
        headers: { 'x-auth-token': token },
        payload: {
          logs_information: 'keys',
          happen_time: 1_700_000_000,
          device_sn: DOCK,
          files: [{ device_sn: DOCK, module: '3', list: [{ boot_index: 1, start_time: 1, end_time: 2 }] }],
        },
      });
      assert.equal(started.json().code, 0, started.body);
      const taskId = started.json().data as string;
      assert.ok(received.slice(before).some((m) => m.method === 'fileupload_start'));
      // The dock stores the archive under a key of its own with a control character, and says so.
      const reported = `${ws}/logs/${DOCK}/dock\u0007.tar`;
      await plant(reported, 'log archive');
      await sendProgress(
        dock,
        taskId,
        {
          output: {
            status: 'ok',
            ext: {
              files: [
                { module: '3', device_sn: DOCK, key: reported, progress: { progress: 100, status: 'ok' } },
              ],
            },
          },
        },
        true,
      );
      const fileId = await until('the upload is done', async () => {
        const history = await t.inject({
          method: 'GET',
          url: `/manage/api/v1/workspaces/${ws}/devices/${DOCK}/logs-uploaded?page=1&page_size=10`,
          headers: { 'x-auth-token': token },
        });
        const task = (
          history.json().data.list as {
            logs_id: string;
            status: number;
            device_logs: { files: { file_id: string }[] };
          }[]
        ).find((l) => l.logs_id === taskId);
        return task?.status === 2 ? task.device_logs.files[0]!.file_id : undefined;
      });
      const link = await t.inject({
        method: 'GET',
        url: `/manage/api/v1/workspaces/${ws}/logs/${taskId}/url/${fileId}`,
        headers: { 'x-auth-token': token },
      });
      assert.equal(link.json().code, 212410, link.body);
    });
  });
}
