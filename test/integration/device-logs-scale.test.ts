/**
 * Remote device logs with two Skyvault instances on one PostgreSQL and one external broker (Mosquitto in
 * CI): the task is started on the first, the dock's progress reaches whichever instance the broker's
 * shared subscription picks, and a browser connected to the second sees every step live. A silent
 * upload is timed out by exactly one of them. The second instance uses the first one's embedded store as
 * its cloud storage (SKYVAULT_STORAGE=minio with the store's root credentials), so both see one bucket.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { WebSocket } from 'ws';
import type { LogTaskView } from '../../src/features/logs/log-task.service.ts';
import {
  connectDock,
  sendProgress,
  type ServiceMessage,
  serveServices,
  type TestDock,
} from '../helpers/dock.ts';
import { ROOT_CREDENTIALS, sdkClient } from '../helpers/storage.ts';
import { startLoggedInApp, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { until } from '../helpers/wait.ts';

const MQTT_URL = process.env.SKYVAULT_TEST_MQTT_URL;
const skip =
  MQTT_URL && process.env.SKYVAULT_TEST_DATABASE_URL
    ? false
    : 'needs SKYVAULT_TEST_MQTT_URL and SKYVAULT_TEST_DATABASE_URL';
const unique = () => randomBytes(4).toString('hex').toUpperCase();

describe('remote device logs on two instances, PostgreSQL and an external broker', { skip }, () => {
  const group = `test-${unique()}`;
  const dockSn = `LOG-TWIN-${unique()}`;
  let first: TestApp;
  let second: TestApp;
  let ws: string;
  let token: string;
  let dock: TestDock;
  let received: ServiceMessage[];
  let socket: WebSocket;
  const pushes: {
    biz_code: string;
    data: { bid: string; output: { status: string; task_status: number } };
  }[] = [];
  const ended: { instance: string; task: LogTaskView }[] = [];

  before(async () => {
    const env = {
      SKYVAULT_MQTT_URL: MQTT_URL!,
      SKYVAULT_MQTT_SHARED_GROUP: group,
      SKYVAULT_LOG_UPLOAD_TIMEOUT: '3',
    };
    ({
      t: first,
      ws,
      token,
    } = await startLoggedInApp({
      dialect: 'postgres',
      env: {
        ...env,
        SKYVAULT_STORAGE_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
        SKYVAULT_STORAGE_SECRET_KEY: ROOT_CREDENTIALS.secretKey,
      },
    }));
    const database = first.app.config.database;
    assert.equal(database.kind, 'postgres');
    second = await startTestApp({
      dialect: 'postgres',
      env: {
        ...env,
        SKYVAULT_DATABASE_URL: database.kind === 'postgres' ? database.url : '',
        SKYVAULT_STORAGE: 'minio',
        SKYVAULT_S3_ENDPOINT: `http://127.0.0.1:${first.app.embeddedStore!.port}`,
        SKYVAULT_S3_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
        SKYVAULT_S3_SECRET_KEY: ROOT_CREDENTIALS.secretKey,
      },
    });
    const { http } = await second.app.listen();
    for (const [instance, t] of [
      ['first', first],
      ['second', second],
    ] as const) {
      t.app.logTasks.events.on('progress', ({ task }) => {
        if (task.status !== 1) ended.push({ instance, task });
      });
    }
    dock = await connectDock(MQTT_URL!, dockSn, { username: 'dock', password: 'unused' });
    received = await serveServices(dock, {});
    await first.app.devices.bind(dockSn, ws);
    await dock.send('status', 'update_topo', { domain: 3, type: 1, sub_type: 0, sub_devices: [] });
    await until('the dock online', async () =>
      (await first.app.devices.find(dockSn))?.online === 1 ? true : undefined,
    );

    socket = new WebSocket(`ws://127.0.0.1:${http.port}/api/v1/ws?x-auth-token=${encodeURIComponent(token)}`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.on('message', (raw: Buffer) => pushes.push(JSON.parse(raw.toString()) as (typeof pushes)[number]));
  });
  after(async () => {
    socket?.close();
    await dock?.close();
    await second?.close();
    await first?.close();
  });

  const start = async () => {
    const response = await first.inject({
      method: 'POST',
      url: `/manage/api/v1/workspaces/${ws}/devices/${dockSn}/logs`,
      headers: { 'x-auth-token': token },
      payload: { files: [{ module: '3', list: [{ boot_index: 12, start_time: 1, end_time: 2, size: 3 }] }] },
    });
    const body = response.json<{ code: number; message: string; data: string }>();
    assert.equal(body.code, 0, body.message);
    return body.data;
  };
  const fileData = (status: string, progress: number, extra: Record<string, unknown> = {}) => ({
    result: 0,
    output: {
      status,
      ext: {
        files: [
          {
            module: '3',
            device_sn: dockSn,
            ...extra,
            progress: { current_step: 1, total_step: 1, progress, status },
          },
        ],
      },
    },
  });

  it('follows an upload started on one instance, handled on both, watched live on the other', async () => {
    const taskId = await start();
    const order = received.find((m) => m.bid === taskId && m.method === 'fileupload_start')!;
    const data = order.data as {
      bucket: string;
      endpoint: string;
      region: string;
      credentials: { access_key_id: string; access_key_secret: string; security_token: string };
      params: { files: { object_key: string }[] };
    };
    const key = data.params.files[0]!.object_key;
    const bytes = Buffer.from('twin log archive '.repeat(200));
    const s3 = sdkClient({
      accessKeyId: data.credentials.access_key_id,
      accessKeySecret: data.credentials.access_key_secret,
      securityToken: data.credentials.security_token,
      endpoint: data.endpoint,
      bucket: data.bucket,
      region: data.region,
      provider: 'minio',
      prefix: `${ws}/logs`,
      expiresAt: 0,
    });
    await s3.send(new PutObjectCommand({ Bucket: data.bucket, Key: key, Body: bytes }));
    s3.destroy();

    // Many events, so that the shared subscription gives both instances some.
    for (let percent = 1; percent <= 40; percent++) {
      await sendProgress(dock, taskId, fileData('file_uploading', percent * 2, { key }));
    }
    const ack = await sendProgress(dock, taskId, fileData('ok', 100, { key, size: bytes.length }), true);
    assert.equal(ack?.data.result, 0);

    const done = await until('the ok pushed to the browser on the second instance', () =>
      pushes.find(
        (p) => p.biz_code === 'fileupload_progress' && p.data.bid === taskId && p.data.output.status === 'ok',
      ),
    );
    assert.equal(done.data.output.task_status, 2);
    const steps = pushes.filter((p) => p.biz_code === 'fileupload_progress' && p.data.bid === taskId);
    assert.ok(steps.length >= 10, `live steps on the second instance: ${steps.length}`);

    // The second instance answers the history and the download the same way.
    const history = (
      await second.inject({
        method: 'GET',
        url: `/manage/api/v1/workspaces/${ws}/devices/${dockSn}/logs-uploaded?page=1&page_size=10`,
        headers: { 'x-auth-token': token },
      })
    ).json<{
      data: { list: { logs_id: string; status: number; device_logs: { files: { file_id: string }[] } }[] };
    }>().data;
    const row = history.list.find((l) => l.logs_id === taskId)!;
    assert.equal(row.status, 2);
    const link = (
      await second.inject({
        method: 'GET',
        url: `/manage/api/v1/workspaces/${ws}/logs/${taskId}/url/${row.device_logs.files[0]!.file_id}`,
        headers: { 'x-auth-token': token },
      })
    ).json<{ code: number; data: string }>();
    assert.equal(link.code, 0);
    assert.deepEqual(Buffer.from(await (await fetch(link.data)).arrayBuffer()), bytes);
  });

  it('times a silent upload out on exactly one instance, however many look at once', async () => {
    const startedAt = Date.now();
    const taskId = await start();
    // Right at the deadline, both instances sweep five times at once (besides their own watchers).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + 3100 - Date.now())));
    const taken = await Promise.all(
      [first, second, first, second, first, second, first, second, first, second].map((t) =>
        t.app.logTasks.expireOverdue(),
      ),
    );
    await until('timed out', () => (ended.some((e) => e.task.id === taskId) ? true : undefined), 15_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const timeouts = ended.filter((e) => e.task.id === taskId);
    assert.equal(timeouts.length, 1, `timed out by ${timeouts.map((e) => e.instance).join(' and ')}`);
    assert.ok(taken.reduce((a, b) => a + b, 0) <= 1);
    assert.equal(timeouts[0]!.task.uploadStatus, 'timeout');
  });
});
