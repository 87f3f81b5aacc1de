/**
 * The whole remote-log lifecycle through the web API, against `skyvault simulate dock --stay`, on the
 * embedded broker and on Mosquitto (SKYVAULT_TEST_MQTT_URL): list what the dock holds, upload, follow the
 * history to the end, download the archives and compare them with what the dock reported, cancel an
 * upload mid-way, delete. On Mosquitto nothing binds the dock from its MQTT login, so the test binds it.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { DeviceLogsDto } from '../../src/http/routes/manage/device-logs.dto.ts';
import { simulateDock } from '../../src/simulate/dock.ts';
import { ADMIN_PASSWORD, startLoggedInApp, type TestApp } from '../helpers/test-app.ts';
import { until } from '../helpers/wait.ts';

const DOCK = 'SIMDOCK0001';
const MQTT_URL = process.env.SKYVAULT_TEST_MQTT_URL;

interface Listed {
  files: { device_sn: string; module: string; result: number; list: Record<string, number>[] }[];
}

const brokers: { name: string; env: Record<string, string>; skip: false | string }[] = [
  { name: 'the embedded broker', env: {}, skip: false },
  {
    name: 'Mosquitto',
    env: MQTT_URL
      ? { SKYVAULT_MQTT_URL: MQTT_URL, SKYVAULT_MQTT_SHARED_GROUP: `test-${randomBytes(4).toString('hex')}` }
      : {},
    skip: MQTT_URL ? false : 'SKYVAULT_TEST_MQTT_URL is not set',
  },
];

for (const broker of brokers) {
  describe(
    `remote logs end to end with the simulated dock on ${broker.name}`,
    { skip: broker.skip, concurrency: false },
    () => {
      let t: TestApp;
      let ws: string;
      let token: string;
      const stop = new AbortController();
      let run: Promise<unknown>;

      before(async () => {
        ({ t, ws, token } = await startLoggedInApp({ env: broker.env }));
        const url = `http://127.0.0.1:${(t.app.http.server.address() as { port: number }).port}`;
        run = simulateDock({
          url,
          username: 'admin',
          password: ADMIN_PASSWORD,
          files: 0,
          stay: true,
          signal: stop.signal,
          logStepMs: 150,
          out: () => {},
        });
        await until('the simulated dock online', async () =>
          (await t.app.devices.find(DOCK))?.online === 1 ? true : undefined,
        );
        if (!t.app.broker) await t.app.devices.bind(DOCK, ws);
      });
      after(async () => {
        stop.abort();
        await run;
        await t.close();
      });

      const api = async <T>(
        method: 'GET' | 'POST' | 'DELETE',
        path: string,
        payload?: Record<string, unknown>,
      ) => {
        const response = await t.inject({
          method,
          url: `/manage/api/v1/workspaces/${ws}${path}`,
          headers: { 'x-auth-token': token },
          ...(payload ? { payload } : {}),
        });
        const body = response.json<{ code: number; message: string; data: T }>();
        assert.equal(body.code, 0, `${method} ${path}: ${body.message}`);
        return body.data;
      };
      const task = async (id: string) => {
        const history = await api<{ list: DeviceLogsDto[] }>(
          'GET',
          `/devices/${DOCK}/logs-uploaded?page=1&page_size=20`,
        );
        return history.list.find((l) => l.logs_id === id);
      };
      const listed = () => api<Listed>('GET', `/devices/${DOCK}/logs?domain_list=3,0`);
      const startUpload = async (count: number, description: string) => {
        const { files } = await listed();
        return api<string>('POST', `/devices/${DOCK}/logs`, {
          logs_information: description,
          files: files.map((f) => ({
            device_sn: f.device_sn,
            module: f.module,
            list: f.list.slice(0, count),
          })),
        });
      };

      it('lists, uploads, follows to the end, downloads what the dock reported, and deletes', async () => {
        const { files } = await listed();
        assert.deepEqual(files.map((f) => f.module).sort(), ['0', '3']);
        assert.ok(files.every((f) => f.result === 0 && f.list.length > 0));

        const id = await startUpload(2, 'lifecycle');
        const done = await until(
          'the upload done',
          async () => {
            const row = await task(id);
            return row?.status === 2 ? row : undefined;
          },
          60_000,
        );
        assert.equal(done.reason, null);
        for (const file of done.device_logs.files) {
          assert.equal(file.status, 'ok');
          assert.equal(file.list.length, 2);
          const link = await api<string>('GET', `/logs/${id}/url/${file.file_id}`);
          const bytes = Buffer.from(await (await fetch(link)).arrayBuffer());
          assert.equal(bytes.length, file.size, 'the size the dock reported');
          assert.equal(
            createHash('md5').update(bytes).digest('hex'),
            file.fingerprint,
            'the MD5 the dock reported',
          );
        }

        await api('DELETE', `/devices/${DOCK}/logs/${id}`);
        assert.equal(await task(id), undefined);
        for (const file of done.device_logs.files)
          assert.equal(await t.app.storage.head(file.object_key!), undefined);
      });

      it('cancels an upload mid-way', async () => {
        const id = await startUpload(5, 'to cancel');
        await until(
          'uploading',
          async () =>
            (await task(id))?.logs_progress.some((p) => p.status === 'file_uploading') ? true : undefined,
          30_000,
        );
        await api('DELETE', `/devices/${DOCK}/logs`, { status: 'cancel', module_list: ['3', '0'] });
        const canceled = await until(
          'canceled',
          async () => {
            const row = await task(id);
            return row && row.status !== 1 ? row : undefined;
          },
          30_000,
        );
        assert.equal(canceled.status, 3, `ended ${canceled.status}: ${canceled.reason}`);
      });
    },
  );
}
