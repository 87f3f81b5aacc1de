/**
 * Several instances, one bucket (issue 14): two Skyvault instances on one PostgreSQL and one external
 * broker (Mosquitto in CI), both on `SKYVAULT_STORAGE=minio` pointed at a third Skyvault's embedded store
 * (the MinIO stand-in). A Pilot uploads through one instance, a dock through whichever instance the
 * broker's shared subscription picks; both instances list every file, either one downloads what the
 * other recorded, and a deletion on one is gone for the other and from the bucket.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  connectDock,
  type DockStorageConfig,
  dockStorageClient,
  dockTopology,
  type TestDock,
} from '../helpers/dock.ts';
import { testPilot } from '../helpers/pilot.ts';
import { ROOT_CREDENTIALS } from '../helpers/storage.ts';
import { startLoggedInApp, startTestApp, type TestApp } from '../helpers/test-app.ts';

const MQTT_URL = process.env.SKYVAULT_TEST_MQTT_URL;
const skip =
  MQTT_URL && process.env.SKYVAULT_TEST_DATABASE_URL
    ? false
    : 'needs SKYVAULT_TEST_MQTT_URL and SKYVAULT_TEST_DATABASE_URL';
const unique = () => randomBytes(4).toString('hex').toUpperCase();

describe('two instances, one PostgreSQL, one broker, one bucket (minio provider)', { skip }, () => {
  const dockSn = `SCALE-DOCK-${unique()}`;
  const aircraftSn = `SCALE-AIR-${unique()}`;
  let minio: TestApp;
  let first: TestApp;
  let second: TestApp;
  let ws: string;
  let token: string;
  let dock: TestDock | undefined;

  before(async () => {
    ({ t: minio } = await startLoggedInApp({
      env: {
        SKYVAULT_STORAGE_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
        SKYVAULT_STORAGE_SECRET_KEY: ROOT_CREDENTIALS.secretKey,
      },
    }));
    const env = {
      SKYVAULT_STORAGE: 'minio',
      SKYVAULT_S3_ENDPOINT: `http://127.0.0.1:${minio.app.embeddedStore!.port}`,
      SKYVAULT_S3_ACCESS_KEY: ROOT_CREDENTIALS.accessKey,
      SKYVAULT_S3_SECRET_KEY: ROOT_CREDENTIALS.secretKey,
      SKYVAULT_MQTT_URL: MQTT_URL!,
      SKYVAULT_MQTT_SHARED_GROUP: `test-${unique()}`,
    };
    ({ t: first, ws, token } = await startLoggedInApp({ dialect: 'postgres', env }));
    const database = first.app.config.database;
    assert.equal(database.kind, 'postgres');
    second = await startTestApp({
      dialect: 'postgres',
      env: { ...env, SKYVAULT_DATABASE_URL: database.kind === 'postgres' ? database.url : '' },
    });
    await second.app.listen();
  });
  after(async () => {
    await dock?.close();
    await second?.close();
    await first?.close();
    await minio?.close();
  });

  const api = (t: TestApp, method: 'GET' | 'DELETE', url: string) =>
    t.inject({ method, url, headers: { 'x-auth-token': token } });
  const listed = async (t: TestApp) =>
    ((await api(t, 'GET', `/media/api/v1/files/${ws}/files?page_size=100`)).json().data.list ?? []) as {
      file_id: string;
      object_key: string;
    }[];

  it('records a Pilot upload on one instance and a dock upload on either; both list both', async () => {
    // Pilot 2, talking to the first instance.
    const pilot = await testPilot(first, token, ws);
    const pilotKey = `${ws}/media/scale/DJI_0001.JPG`;
    assert.equal((await pilot.upload('scale/DJI_0001.JPG', 'pilot photo')).code, 0);

    // A dock on the broker: its requests and events go to whichever instance the group picks.
    dock = await connectDock(MQTT_URL!, dockSn, { username: 'dock', password: 'unused' });
    await first.app.devices.bind(dockSn, ws);
    assert.equal((await dock.send('status', 'update_topo', dockTopology(aircraftSn)))?.data.result, 0);
    const config = await dock.send('requests', 'storage_config_get', { module: 0 });
    const output = config?.data.output as DockStorageConfig;
    assert.equal(output.provider, 'minio');
    assert.equal(output.endpoint, first.app.config.storage.cloud?.endpoint);
    const dockKey = `${output.object_key_prefix}/flight-9/DJI_20260101120000_0009_W.JPG`;
    const s3 = dockStorageClient(output);
    await s3.send(new PutObjectCommand({ Bucket: output.bucket, Key: dockKey, Body: 'dock photo' }));
    // …and nowhere else in the bucket.
    await assert.rejects(
      s3.send(new PutObjectCommand({ Bucket: output.bucket, Key: 'other/media/x.jpg', Body: 'no' })),
      (e: Error) => e.name === 'AccessDenied',
    );
    s3.destroy();
    const ack = await dock.send(
      'events',
      'file_upload_callback',
      {
        result: 0,
        file: { object_key: dockKey, name: 'DJI_20260101120000_0009_W.JPG', ext: { flight_id: 'flight-9' } },
      },
      { needReply: true },
    );
    assert.deepEqual(ack?.data, { result: 0 });

    for (const t of [first, second]) {
      const keys = (await listed(t)).map((f) => f.object_key);
      assert.ok(keys.includes(pilotKey) && keys.includes(dockKey), JSON.stringify(keys));
    }
  });

  it('downloads from either instance what the other recorded, and deletes for both', async () => {
    const file = (await listed(first)).find((f) => f.object_key.endsWith('DJI_0001.JPG'))!;
    const link = await api(second, 'GET', `/media/api/v1/files/${ws}/file/${file.file_id}/url`);
    assert.equal(link.statusCode, 302);
    const download = await fetch(link.headers.location as string);
    assert.equal(await download.text(), 'pilot photo');

    const deleted = await api(second, 'DELETE', `/media/api/v1/files/${ws}/file/${file.file_id}`);
    assert.equal(deleted.json().code, 0, deleted.body);
    assert.equal(await minio.app.storage.head(file.object_key), undefined, 'gone from the bucket');
    for (const t of [first, second]) {
      assert.ok(!(await listed(t)).some((f) => f.file_id === file.file_id));
    }
  });
});
