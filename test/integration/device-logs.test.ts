/**
 * Remote device logs end to end on the embedded broker and store (docs/protocol.md §5, §7.2): a scripted
 * dock answers `fileupload_list`, `fileupload_start` and `fileupload_update` exactly as DJI documents
 * them (quirks included), uploads with the credentials it was given and reports `fileupload_progress`;
 * the web API lists, starts, cancels, follows, downloads and deletes.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { buildApp, type SkyvaultApp } from '../../src/app.ts';
import type { LiveMessage } from '../../src/features/events/live-events.ts';
import type { DeviceLogsDto } from '../../src/http/routes/manage/device-logs.dto.ts';
import { testDialects } from '../helpers/databases.ts';
import {
  connectDock,
  dockTopology,
  mqttAccountOf,
  sendProgress,
  type ServiceMessage,
  type ServiceScript,
  serveServices,
  type TestDock,
} from '../helpers/dock.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { sdkClient } from '../helpers/storage.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';
import { until } from '../helpers/wait.ts';

const DOCK = 'DOCKLOGS00000001';
const AIRCRAFT = '1581F5BKD225D00LOG1';
const OTHER_DOCK = 'DOCKLOGS00000002';
const topology = dockTopology(AIRCRAFT);

type FileProgress = DeviceLogsDto['logs_progress'][number];
interface Listing {
  files: {
    device_sn: string;
    module: string;
    result: number;
    reason?: string;
    list: Record<string, number>[];
  }[];
}

const fileProgress = (
  module: '0' | '3',
  progress: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) => ({ module, device_sn: module === '3' ? DOCK : AIRCRAFT, ...extra, progress });

const progressData = (status: string, files: unknown[], result?: number) => ({
  ...(result === undefined ? {} : { result }),
  output: { status, ext: { files } },
});

interface StartService {
  bid: string;
  data: {
    bucket: string;
    region: string;
    endpoint: string;
    provider: string;
    file_store_dir: string;
    credentials: { access_key_id: string; access_key_secret: string; security_token: string; expire: number };
    params: {
      files: { module: string; object_key: string; device_sn: string; list: Record<string, number>[] }[];
    };
  };
}

for (const dialect of testDialects()) {
  describe(`remote device logs (${dialect})`, () => {
    let t: TestApp;
    let ws: string;
    let token: string;
    let dock: TestDock;
    let received: ServiceMessage[];
    const script: ServiceScript = {};
    const live: LiveMessage[] = [];

    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({
        dialect,
        captureLogs: true,
        env: { SKYVAULT_DEVICE_REPLY_TIMEOUT: '500', SKYVAULT_DEVICE_RETRIES: '1' },
      }));
      const url = `mqtt://127.0.0.1:${t.app.broker!.port}`;
      dock = await connectDock(url, DOCK, await mqttAccountOf(t, token));
      received = await serveServices(dock, script);
      assert.equal((await dock.send('status', 'update_topo', topology))?.data.result, 0);
      t.app.live.subscribe(ws, (message) => live.push(message));
    });
    after(async () => {
      if (process.env.DEBUG_LOGS) for (const l of t.logs) process.stderr.write(l);
      await dock.close();
      await t.close();
    });

    const api = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, auth = token) => {
      const response = await t.inject({
        method,
        url,
        headers: { 'x-auth-token': auth },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
      return {
        status: response.statusCode,
        body: response.json<{ code: number; message: string; data: unknown }>(),
      };
    };
    const base = () => `/manage/api/v1/workspaces/${ws}/devices/${DOCK}`;
    const history = async (query = '') =>
      (await api('GET', `${base()}/logs-uploaded?page=1&page_size=50${query}`)).body.data as {
        list: DeviceLogsDto[];
        pagination: { total: number };
      };
    const findTask = async (id: string) => (await history()).list.find((l) => l.logs_id === id);
    const task = async (id: string) => {
      const found = await findTask(id);
      assert.ok(found, `task ${id} in the history`);
      return found;
    };

    /** Starts an upload through the API; returns the task id and the fileupload_start the dock got. */
    const startUpload = async (modules: ('0' | '3')[] = ['3', '0']) => {
      const before = received.length;
      const response = await api('POST', `${base()}/logs`, {
        logs_information: 'Gimbal shook at take-off',
        happen_time: 1_700_000_000,
        device_sn: DOCK,
        files: modules.map((module) => ({
          device_sn: module === '3' ? DOCK : AIRCRAFT,
          module,
          list: [{ boot_index: 1053, start_time: 1_662_066_809, end_time: 1_662_070_409, size: 1_083_590 }],
        })),
      });
      assert.equal(response.body.code, 0, response.body.message);
      const taskId = response.body.data as string;
      const start = received
        .slice(before)
        .find((m) => m.method === 'fileupload_start') as unknown as StartService;
      assert.ok(start, 'the dock got fileupload_start');
      return { taskId, start };
    };
    /** Uploads `bytes` to `key` with the credentials of a fileupload_start, as the dock does. */
    const put = async (start: StartService, key: string, bytes: Buffer) => {
      const c = start.data.credentials;
      const s3 = sdkClient({
        accessKeyId: c.access_key_id,
        accessKeySecret: c.access_key_secret,
        securityToken: c.security_token,
        endpoint: start.data.endpoint,
        bucket: start.data.bucket,
        region: start.data.region,
        provider: 'minio',
        prefix: start.data.file_store_dir,
        expiresAt: 0,
      });
      await s3.send(new PutObjectCommand({ Bucket: start.data.bucket, Key: key, Body: bytes }));
      s3.destroy();
    };
    /** Publishes a progress event; waits for its events_reply only when it asks for one. */
    const progress = (bid: string, data: unknown, needReply = false) =>
      sendProgress(dock, bid, data, needReply);

    it('lists the logs on the dock and its aircraft, quirks absorbed, per-module errors in plain words', async () => {
      script.fileupload_list = () => ({
        result: 0,
        // `files` beside `result`, modules as a number and a string, `end_ime`, seconds and ms.
        files: [
          {
            device_sn: '',
            module: 3,
            result: 0,
            list: [
              { boot_index: 1053, start_time: 1_662_066_809, end_time: 1_662_070_409, size: 1_083_590 },
              { boot_index: 1054, start_time: 1_662_070_500_000, end_ime: 1_662_071_500_000, size: 2048 },
            ],
          },
          { device_sn: AIRCRAFT, module: '0', result: 324015, list: [] },
        ],
      });
      const { body } = await api('GET', `${base()}/logs?domain_list=0,3`);
      assert.equal(body.code, 0, body.message);
      const [dockLogs, aircraftLogs] = [
        (body.data as Listing).files.find((f) => f.module === '3')!,
        (body.data as Listing).files.find((f) => f.module === '0')!,
      ];
      assert.equal(dockLogs.device_sn, DOCK, 'an empty owner is the dock itself');
      assert.equal(dockLogs.list.length, 2);
      assert.deepEqual(dockLogs.list[0], {
        boot_index: 1053,
        start_time: 1_662_066_809,
        start_time_ms: 1_662_066_809_000,
        end_time: 1_662_070_409,
        end_time_ms: 1_662_070_409_000,
        size: 1_083_590,
      });
      assert.equal(dockLogs.list[1]?.end_time, 1_662_071_500_000, 'end_ime read as end_time');
      assert.equal(dockLogs.list[1]?.end_time_ms, 1_662_071_500_000);
      assert.equal(aircraftLogs.result, 324015);
      assert.match(aircraftLogs.reason ?? '', /aircraft is off/);
      const asked = received.findLast((m) => m.method === 'fileupload_list')!;
      assert.deepEqual(asked.data, { module_list: ['0', '3'] });
    });

    it('passes the device’s own error code on, with the reason in plain words', async () => {
      script.fileupload_list = () => ({ result: 324013 });
      const { status, body } = await api('GET', `${base()}/logs`);
      assert.equal(status, 200);
      assert.equal(body.code, 324013);
      assert.match(body.message, /could not read its log list/);
    });

    it('answers a dock that stays silent with a clear error within 10 s', async () => {
      script.fileupload_list = () => undefined;
      const started = Date.now();
      const { body } = await api('GET', `${base()}/logs`);
      assert.equal(body.code, 211001);
      assert.match(body.message, /did not answer/);
      assert.ok(Date.now() - started < 10_000);
      delete script.fileupload_list;
    });

    it('refuses an offline dock at once, and a dock of another workspace as unknown', async () => {
      const url = `mqtt://127.0.0.1:${t.app.broker!.port}`;
      const other = await connectDock(url, OTHER_DOCK, await mqttAccountOf(t, token));
      await other.send('status', 'update_topo', { ...topology, sub_devices: [] });
      await other.close();
      await until('the second dock offline', async () =>
        (await t.app.devices.find(OTHER_DOCK))?.online === 0 ? true : undefined,
      );
      const started = Date.now();
      const offline = await api('GET', `/manage/api/v1/workspaces/${ws}/devices/${OTHER_DOCK}/logs`);
      assert.equal(offline.body.code, 211409);
      assert.match(offline.body.message, /offline/);
      assert.ok(Date.now() - started < 2000, 'no MQTT round trip for an offline dock');

      const elsewhere = await createWorkspace(t.app.database.db, 'Elsewhere');
      await createUser(t.app.database.db, elsewhere, 'outsider', 'outsider-password', { userType: 1 });
      const outsider = (await t.login('outsider', 'outsider-password')).access_token;
      const foreign = await api(
        'GET',
        `/manage/api/v1/workspaces/${elsewhere}/devices/${DOCK}/logs`,
        undefined,
        outsider,
      );
      assert.equal(foreign.body.code, 210404, 'another workspace’s dock is not found');
      const crossed = await api('GET', `${base()}/logs-uploaded?page=1&page_size=10`, undefined, outsider);
      assert.equal(crossed.status, 403);
    });

    it('uploads: scoped credentials, one key per module, progress that never goes back, ok with a reply', async () => {
      live.length = 0;
      const { taskId, start } = await startUpload();
      assert.equal(start.bid, taskId, 'the task id is the bid of fileupload_start');
      const now = Date.now();
      const { data } = start;
      assert.equal(data.provider, 'minio');
      assert.equal(data.file_store_dir, `${ws}/logs`);
      assert.ok(
        data.credentials.expire > now + 600_000,
        `expire is absolute epoch ms (${data.credentials.expire})`,
      );
      assert.ok(data.credentials.expire < now + 3_600_000 + 60_000);
      assert.deepEqual(
        data.params.files.map((f) => [f.module, f.device_sn]),
        [
          ['3', DOCK],
          ['0', AIRCRAFT],
        ],
      );
      for (const f of data.params.files)
        assert.match(f.object_key, new RegExp(`^${ws}/logs/[0-9a-f-]{36}\\.tar$`));
      assert.deepEqual(data.params.files[0]!.list, [
        { boot_index: 1053, start_time: 1_662_066_809, end_time: 1_662_070_409, size: 1_083_590 },
      ]);
      const [dockFile, aircraftFile] = data.params.files;
      const created = await task(taskId);
      assert.equal(created.status, 1);
      assert.equal(created.user_name, 'admin');
      assert.equal(created.logs_information, 'Gimbal shook at take-off');
      assert.equal(created.happen_at, 1_700_000_000_000, 'a seconds happen_time is read as seconds');
      assert.deepEqual(
        created.device_topo.parents.map((p: { sn: string }) => p.sn),
        [DOCK],
      );
      assert.deepEqual(
        created.device_topo.hosts.map((p: { sn: string }) => p.sn),
        [AIRCRAFT],
      );

      // The credentials write only under the workspace's log prefix.
      await assert.rejects(put(start, `${ws}/media/not-a-log.tar`, Buffer.from('x')), /AccessDenied|denied/i);

      const dockBytes = Buffer.from('dock log archive '.repeat(1000));
      const aircraftBytes = Buffer.from('aircraft log archive '.repeat(500));
      await progress(
        taskId,
        progressData('file_pull', [
          fileProgress('3', { current_step: 1, total_step: 3, prgress: 50, status: 'file_pull' }),
        ]),
      );
      await progress(
        taskId,
        progressData('file_zip', [fileProgress('3', { current_step: 2, progress: 40, status: 'file_zip' })]),
      );
      await put(start, dockFile!.object_key, dockBytes);
      await progress(
        taskId,
        progressData('file_uploading', [
          fileProgress('3', {
            current_step: 3,
            total_step: 3,
            progress: 50,
            upload_rate: 2048,
            status: 'file_uploading',
          }),
          fileProgress('0', { current_step: 1, total_step: 3, progress: 10, status: 'file_pull' }),
        ]),
      );
      const midway = await until('progress recorded', async () => {
        const row = await task(taskId);
        return row.logs_progress.find((p) => p.device_model_domain === '3')?.progress === 83
          ? row
          : undefined;
      });
      // A duplicate and an older event arrive late: nothing moves back.
      await progress(
        taskId,
        progressData('file_pull', [
          fileProgress('3', { current_step: 1, total_step: 3, progress: 90, status: 'file_pull' }),
        ]),
      );
      const handled = await progress(
        taskId,
        progressData('file_zip', [
          fileProgress('3', { current_step: 2, total_step: 3, progress: 10, status: 'file_zip' }),
        ]),
        true,
      );
      assert.equal(handled?.data.result, 0, 'both handled (in order) before this reply');
      const still = await task(taskId);
      const dockProgress = still.logs_progress.find((p) => p.device_model_domain === '3')!;
      assert.equal(dockProgress.status, 'file_uploading');
      assert.equal(dockProgress.progress, 83, '((3 - 1) × 100 + 50) / 3');
      assert.equal(dockProgress.upload_rate, 2048);
      assert.equal(midway.status, 1);

      await put(start, aircraftFile!.object_key, aircraftBytes);
      const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
      const reply = await progress(
        taskId,
        progressData('ok', [
          fileProgress(
            '3',
            { current_step: 3, total_step: 3, progress: 100, status: 'ok', finish_time: Date.now() },
            {
              key: dockFile!.object_key,
              fingerprint: md5(dockBytes),
              size: dockBytes.length,
            },
          ),
          fileProgress(
            '0',
            { current_step: 3, progress: 100, status: 'ok' },
            {
              key: aircraftFile!.object_key,
              fingerprint: md5(aircraftBytes),
              size: aircraftBytes.length,
            },
          ),
        ]),
        true,
      );
      assert.equal(reply?.data.result, 0, 'need_reply 1 gets an events_reply');
      const done = await until('the task done', async () => {
        const row = await task(taskId);
        return row.status === 2 ? row : undefined;
      });
      assert.equal(done.reason, null);
      const files = done.device_logs.files as {
        file_id: string;
        module: string;
        object_key: string;
        size: number;
        fingerprint: string;
      }[];
      assert.deepEqual(
        files.map((f) => [f.module, f.size]),
        [
          ['3', dockBytes.length],
          ['0', aircraftBytes.length],
        ],
      );
      assert.equal(files[0]!.object_key, dockFile!.object_key);

      const link = await api(
        'GET',
        `/manage/api/v1/workspaces/${ws}/logs/${taskId}/url/${files[0]!.file_id}`,
      );
      assert.equal(link.body.code, 0);
      const download = await fetch(link.body.data as string);
      assert.equal(download.status, 200);
      assert.deepEqual(Buffer.from(await download.arrayBuffer()), dockBytes);
      assert.match(download.headers.get('content-disposition') ?? '', /DOCKLOGS00000001_dock_logs_/);

      const pushes = live.filter((m) => m.biz_code === 'fileupload_progress') as {
        data: { bid: string; sn: string; output: { logs_id: string; status: string; files: FileProgress[] } };
      }[];
      assert.ok(pushes.length >= 3, `progress pushed live (${pushes.length})`);
      const last = pushes.at(-1)!.data;
      assert.equal(last.bid, taskId);
      assert.equal(last.sn, DOCK);
      assert.equal(last.output.logs_id, taskId);
      assert.equal(last.output.status, 'ok');
      assert.deepEqual(
        last.output.files.map(
          (f: { device_sn: string; device_model_domain: string; progress: number; status: string }) => [
            f.device_sn,
            f.device_model_domain,
            f.progress,
            f.status,
          ],
        ),
        [
          [DOCK, '3', 100, 'ok'],
          [AIRCRAFT, '0', 100, 'ok'],
        ],
      );
    });

    it('matches progress by the assigned key, then by the key the dock reported, and downloads the one stored', async () => {
      const { taskId, start } = await startUpload(['3']);
      const assigned = start.data.params.files[0]!.object_key;
      const reportedKey = `${ws}/logs/${DOCK}/dock_20240101.log.tar`;
      // Another bid (a dock that regenerated it), the assigned key: matched by key.
      await progress(
        randomUUID(),
        progressData('file_uploading', [
          fileProgress(
            '3',
            { current_step: 1, total_step: 1, progress: 30, status: 'file_uploading' },
            { key: assigned },
          ),
        ]),
      );
      await until('matched by assigned key', async () =>
        (await task(taskId)).logs_progress[0]?.progress === 30 ? true : undefined,
      );
      // It stores under its own key and says so; later events name only that key.
      const bytes = Buffer.from('archive under the dock’s own key');
      await put(start, reportedKey, bytes);
      await progress(
        taskId,
        progressData('file_uploading', [
          fileProgress(
            '3',
            { current_step: 1, total_step: 1, progress: 60, status: 'file_uploading' },
            { key: reportedKey },
          ),
        ]),
      );
      await progress(
        randomUUID(),
        progressData('ok', [
          fileProgress(
            '3',
            { current_step: 1, total_step: 1, progress: 100, status: 'ok' },
            { key: reportedKey, size: bytes.length },
          ),
        ]),
      );
      const done = await until('done by reported key', async () => {
        const row = await task(taskId);
        return row.status === 2 ? row : undefined;
      });
      const link = await api(
        'GET',
        `/manage/api/v1/workspaces/${ws}/logs/${taskId}/url/${done.device_logs.files[0]!.file_id}`,
      );
      assert.equal(link.body.code, 0, link.body.message);
      assert.deepEqual(
        Buffer.from(await (await fetch(link.body.data as string)).arrayBuffer()),
        bytes,
        'the reported key, since the assigned one is empty',
      );

      // A key outside the workspace's log prefix is never served.
      const outside = await startUpload(['3']);
      await progress(
        outside.taskId,
        progressData('ok', [
          fileProgress('3', { progress: 100, status: 'ok' }, { key: `${ws}/media/x.tar` }),
        ]),
      );
      await until('done', async () => ((await task(outside.taskId)).status === 2 ? true : undefined));
      const refused = await api(
        'GET',
        `/manage/api/v1/workspaces/${ws}/logs/${outside.taskId}/url/${(await task(outside.taskId)).device_logs.files[0]!.file_id}`,
      );
      assert.equal(refused.body.code, 212410);
    });

    it('ignores another dock’s progress for this dock’s task', async () => {
      const { taskId } = await startUpload(['3']);
      const url = `mqtt://127.0.0.1:${t.app.broker!.port}`;
      const other = await connectDock(url, OTHER_DOCK, await mqttAccountOf(t, token));
      await other.send(
        'events',
        'fileupload_progress',
        progressData(
          'failed',
          [fileProgress('3', { progress: 0, status: 'failed', result: 324019 })],
          324019,
        ),
        { bid: taskId, needReply: true },
      );
      await other.close();
      assert.equal((await task(taskId)).status, 1, 'untouched');
      assert.ok(t.logs.some((l) => l.includes('matches no log upload')));
    });

    it('cancels: the dock is told per module, its canceled report ends the task, a late ok still wins', async () => {
      const { taskId, start } = await startUpload(['3', '0']);
      const cancel = await api('DELETE', `${base()}/logs`, { status: 'cancel', module_list: ['3', 0] });
      assert.equal(cancel.body.code, 0, cancel.body.message);
      const update = received.findLast((m) => m.method === 'fileupload_update')!;
      assert.deepEqual(update.data, { status: 'cancel', module_list: ['3', '0'] });
      await progress(
        taskId,
        progressData('canceled', [
          fileProgress('3', { progress: 20, status: 'canceled' }),
          fileProgress('0', { progress: 5, status: 'canceled' }),
        ]),
      );
      const canceled = await until('canceled', async () => {
        const row = await task(taskId);
        return row.status === 3 ? row : undefined;
      });
      assert.match(canceled.reason ?? '', /canceled/);
      // The dock had finished the dock's file before it read the cancel.
      const bytes = Buffer.from('finished anyway');
      await put(start, start.data.params.files[0]!.object_key, bytes);
      await progress(
        taskId,
        progressData('ok', [
          fileProgress('3', { progress: 100, status: 'ok' }),
          fileProgress('0', { progress: 100, status: 'ok' }),
        ]),
      );
      await until('ok wins', async () => ((await task(taskId)).status === 2 ? true : undefined));

      script.fileupload_update = () => ({ result: 324018 });
      const refused = await api('DELETE', `${base()}/logs`, { status: 'cancel', module_list: ['3'] });
      assert.equal(refused.body.code, 324018);
      delete script.fileupload_update;
    });

    it('fails with the DJI error code and says why in plain words', async () => {
      const { taskId } = await startUpload(['0']);
      await progress(
        taskId,
        progressData(
          'failed',
          [
            fileProgress('0', {
              current_step: 2,
              total_step: 3,
              progress: 0,
              status: 'failed',
              result: 324019,
            }),
          ],
          324019,
        ),
      );
      const failed = await until('failed', async () => {
        const row = await task(taskId);
        return row.status === 4 ? row : undefined;
      });
      assert.equal(failed.result, 324019);
      assert.match(failed.reason ?? '', /network failed/);
      assert.equal(failed.logs_progress[0]?.reason, failed.reason);
      const filtered = await history('&status=4');
      assert.ok(filtered.list.every((l: { status: number }) => l.status === 4));
      assert.ok(filtered.list.some((l: { logs_id: string }) => l.logs_id === taskId));
      const byText = await history('&logs_information=GIMBAL%20shook');
      assert.ok(byText.list.length > 0, 'description filter is case-insensitive');
      assert.equal((await history('&logs_information=50%25')).list.length, 0, 'LIKE wildcards are literal');
    });

    it('does not record an upload the dock refuses, and says why', async () => {
      script.fileupload_start = () => ({ result: 325009 });
      const before = (await history()).pagination.total;
      const response = await api('POST', `${base()}/logs`, {
        files: [{ module: '3', list: [{ boot_index: 1 }] }],
      });
      assert.equal(response.body.code, 325009);
      assert.match(response.body.message, /busy exporting logs/);
      assert.equal((await history()).pagination.total, before);
      delete script.fileupload_start;

      const bad = await api('POST', `${base()}/logs`, {
        files: [{ module: '7', list: [{ boot_index: 1 }] }],
      });
      assert.equal(bad.body.code, 400);
      assert.match(bad.body.message, /"3" \(the dock\)/);
      const twice = await api('POST', `${base()}/logs`, {
        files: [
          { module: '3', list: [{ boot_index: 1 }] },
          { module: 3, list: [{ boot_index: 2 }] },
        ],
      });
      assert.equal(twice.body.code, 400);
    });

    it('deletes a task with its files in storage', async () => {
      const { taskId, start } = await startUpload(['3']);
      const key = start.data.params.files[0]!.object_key;
      await put(start, key, Buffer.from('to be deleted'));
      await progress(
        taskId,
        progressData('ok', [fileProgress('3', { progress: 100, status: 'ok' }, { key })]),
      );
      await until('done', async () => ((await task(taskId)).status === 2 ? true : undefined));
      const removed = await api('DELETE', `${base()}/logs/${taskId}`);
      assert.equal(removed.body.code, 0);
      assert.equal(await t.app.storage.head(key), undefined);
      assert.equal(await findTask(taskId), undefined);
      assert.equal((await api('DELETE', `${base()}/logs/${taskId}`)).body.code, 212404);
    });
  });
}

describe('remote device logs: silence', () => {
  let t: TestApp;
  let ws: string;
  let token: string;
  let dock: TestDock;
  before(async () => {
    ({ t, token, ws } = await startLoggedInApp({ env: { SKYVAULT_LOG_UPLOAD_TIMEOUT: '3' } }));
    dock = await connectDock(`mqtt://127.0.0.1:${t.app.broker!.port}`, DOCK, await mqttAccountOf(t, token));
    await serveServices(dock, {});
    await dock.send('status', 'update_topo', topology);
  });
  after(async () => {
    await dock.close();
    await t.close();
  });
  const start = async (app: { inject: TestApp['inject'] } = t) => {
    const response = await app.inject({
      method: 'POST',
      url: `/manage/api/v1/workspaces/${ws}/devices/${DOCK}/logs`,
      headers: { 'x-auth-token': token },
      payload: { files: [{ module: '3', list: [{ boot_index: 7 }] }] },
    });
    return response.json<{ data: string }>().data;
  };
  const row = (app: SkyvaultApp, id: string) =>
    app.database.db.selectFrom('logTasks').selectAll().where('id', '=', id).executeTakeFirst();

  it('fails a silent upload with a reason after SKYVAULT_LOG_UPLOAD_TIMEOUT; a late ok still completes it', async () => {
    const taskId = await start();
    // Progress pushes the deadline (3 s after the start) back.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await sendProgress(
      dock,
      taskId,
      progressData('file_zip', [fileProgress('3', { progress: 10, status: 'file_zip' })]),
      true,
    );
    const spoke = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3800 - 2000));
    if (Date.now() - spoke < 2900) {
      assert.equal((await row(t.app, taskId))?.status, 1, 'still open: the dock spoke less than 3 s ago');
    }
    const failed = await until('timed out', async () => {
      const r = await row(t.app, taskId);
      return r?.status === 4 ? r : undefined;
    });
    assert.equal(failed.uploadStatus, 'timeout');
    assert.match(failed.failure ?? '', /sent no progress for 3 s/);
    const files = await t.app.database.db
      .selectFrom('logTaskFiles')
      .selectAll()
      .where('taskId', '=', taskId)
      .execute();
    assert.equal(files[0]?.status, 'timeout');

    await sendProgress(
      dock,
      taskId,
      progressData('ok', [fileProgress('3', { progress: 100, status: 'ok' })]),
    );
    const done = await until('late ok', async () => {
      const r = await row(t.app, taskId);
      return r?.status === 2 ? r : undefined;
    });
    assert.equal(done.failure, null);
  });

  it('resumes watching open uploads after a restart', async () => {
    const taskId = await start();
    const config = t.app.config;
    await t.app.close();
    // Down for longer than the timeout: the new process times the task out as soon as it starts.
    await new Promise((resolve) => setTimeout(resolve, 3200));
    const again = await buildApp(config, { logger: t.app.logger });
    try {
      await again.listen();
      const failed = await until(
        'timed out after the restart',
        async () => {
          const r = await row(again, taskId);
          return r?.status === 4 ? r : undefined;
        },
        5000,
      );
      assert.equal(failed.uploadStatus, 'timeout');
    } finally {
      await again.close();
    }
  });
});
