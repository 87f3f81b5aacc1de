/**
 * Skyvault on an external broker (Mosquitto in CI: SKYVAULT_TEST_MQTT_URL). Each test app gets its own
 * shared-subscription group and SNs, so parallel runs on one broker do not take each other's messages.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testDialects } from '../helpers/databases.ts';
import { connectDock, type TestDock } from '../helpers/dock.ts';
import { startLoggedInApp, startTestApp, type TestApp, tempDir } from '../helpers/test-app.ts';

const MQTT_URL = process.env.SKYVAULT_TEST_MQTT_URL;
const skip = MQTT_URL ? false : 'SKYVAULT_TEST_MQTT_URL is not set';
const unique = () => randomBytes(4).toString('hex').toUpperCase();
const topology = { domain: 3, type: 1, sub_type: 0, sub_devices: [] };

describe('external MQTT broker', { skip }, () => {
  const group = `test-${unique()}`;
  const dockSn = `EXT-DOCK-${unique()}`;
  let t: TestApp;
  let ws: string;
  let token: string;
  let dock: TestDock;
  before(async () => {
    ({ t, token, ws } = await startLoggedInApp({
      env: { SKYVAULT_MQTT_URL: MQTT_URL!, SKYVAULT_MQTT_SHARED_GROUP: group },
    }));
    dock = await connectDock(MQTT_URL!, dockSn, { username: 'dock', password: 'unused' });
  });
  after(async () => {
    await dock?.close();
    await t?.close();
  });

  it('runs no embedded broker and answers the dock through the external one', async () => {
    assert.equal(t.app.broker, undefined);
    const reply = await dock.send('status', 'update_topo', topology);
    assert.equal(reply?.data.result, 0);
    assert.equal(
      (await t.app.devices.find(dockSn))?.workspaceId,
      null,
      'no MQTT account, so no auto-binding',
    );
    const unbound = await dock.send('requests', 'storage_config_get', { module: 0 });
    assert.notEqual(unbound?.data.result, 0, 'no credentials for a gateway bound to no workspace');
  });

  it('binds with the bind code, then records the dock media of an upload', async () => {
    const workspace = (
      await t.inject({
        method: 'GET',
        url: '/manage/api/v1/workspaces/current',
        headers: { 'x-auth-token': token },
      })
    ).json().data;
    const key = `${ws}/media/ext/DJI_0001.JPG`;
    // Reported before binding: kept, then recorded when the dock is bound.
    await t.app.storage.put(key, Buffer.from('photo'), { contentType: 'image/jpeg' });
    const early = await dock.send(
      'events',
      'file_upload_callback',
      { file: { object_key: key, name: 'DJI_0001.JPG' } },
      { needReply: true },
    );
    assert.deepEqual(early?.data, { result: 0 });
    const bind = await dock.send('requests', 'airport_organization_bind', {
      bind_devices: [{ device_binding_code: workspace.bind_code, organization_id: ws, sn: dockSn }],
    });
    assert.deepEqual(bind?.data, { result: 0, output: { err_infos: [] } });
    const rows = await t.app.database.db
      .selectFrom('mediaFiles')
      .selectAll()
      .where('objectKey', '=', key)
      .execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.workspaceId, ws);
    const credentials = await dock.send('requests', 'storage_config_get', { module: 0 });
    assert.equal(credentials?.data.result, 0);
  });
});

for (const dialect of testDialects().filter((d) => d === 'postgres')) {
  describe('two Skyvault instances on one PostgreSQL and one broker', { skip }, () => {
    const group = `test-${unique()}`;
    const dockSn = `TWIN-DOCK-${unique()}`;
    let first: TestApp;
    let second: TestApp;
    let ws: string;
    let dock: TestDock;
    before(async () => {
      ({ t: first, ws } = await startLoggedInApp({
        dialect,
        env: { SKYVAULT_MQTT_URL: MQTT_URL!, SKYVAULT_MQTT_SHARED_GROUP: group },
      }));
      const config = first.app.config.database;
      assert.equal(config.kind, 'postgres');
      second = await startTestApp({
        dialect,
        env: {
          SKYVAULT_MQTT_URL: MQTT_URL!,
          SKYVAULT_MQTT_SHARED_GROUP: group,
          SKYVAULT_DATABASE_URL: config.kind === 'postgres' ? config.url : '',
        },
      });
      await second.app.listen();
      dock = await connectDock(MQTT_URL!, dockSn, { username: 'dock', password: 'unused' });
      await first.app.devices.bind(dockSn, ws);
    });
    after(async () => {
      await dock?.close();
      await second?.close();
      await first?.close();
    });

    // Each instance here has its own embedded object store (the local provider belongs to one process), so
    // the event used is one that needs only the shared database: the dock's upload priority per flight.
    it('handles each device event once, whichever instance takes it', async () => {
      const count = 40;
      const flights = Array.from({ length: count }, (_, i) => `twin-flight-${i}`);
      const replies: string[] = [];
      dock.client.on('message', (topic, payload) => {
        if (topic.endsWith('/events_reply'))
          replies.push((JSON.parse(payload.toString()) as { tid: string }).tid);
      });
      const acks = await Promise.all(
        flights.map((flightId) =>
          dock.send(
            'events',
            'highest_priority_upload_flighttask_media',
            { flight_id: flightId },
            { needReply: true, timeoutMs: 10_000 },
          ),
        ),
      );
      assert.ok(
        acks.every((a) => a?.data.result === 0),
        'every event acknowledged',
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(replies.length, count, 'one reply per event, not one per instance');
      assert.equal(new Set(replies).size, count);
      const groups = await first.app.database.db
        .selectFrom('fileGroups')
        .select(['id', 'gatewaySn'])
        .where('workspaceId', '=', ws)
        .execute();
      assert.deepEqual(groups.map((g) => g.id).sort(), [...flights].sort());
      assert.ok(groups.every((g) => g.gatewaySn === dockSn));
    });
  });
}

/** A private Mosquitto (persistence on) on a free port, which the test can stop and start again. */
async function privateMosquitto(): Promise<{ url: string; start(): Promise<void>; stop(): Promise<void> }> {
  const dir = tempDir('skyvault-mosquitto-');
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    // `user`: started as root, mosquitto would switch to its own user, who cannot write the data dir.
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${dir}/\nuser ${userInfo().username}\n`,
  );
  let child: ChildProcess | undefined;
  const reachable = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      }).on('error', () => resolve(false));
    });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async start() {
      child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
      for (let i = 0; i < 100 && !(await reachable()); i++) await new Promise((r) => setTimeout(r, 50));
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise((resolve) => {
        running.once('exit', resolve);
        running.kill('SIGTERM');
      });
    },
  };
}

const hasMosquitto = spawnSync('mosquitto', ['-h']).error === undefined;

describe(
  'QoS 1 device events across a broker restart',
  { skip: hasMosquitto ? false : 'no mosquitto binary' },
  () => {
    let broker: Awaited<ReturnType<typeof privateMosquitto>>;
    let t: TestApp;
    let ws: string;
    const dockSn = `RESTART-DOCK-${unique()}`;
    before(async () => {
      broker = await privateMosquitto();
      await broker.start();
      // One instance, plain subscriptions: Mosquitto 2.0 queues nothing for an offline session's shared
      // subscriptions (measured), so this guarantee holds without $share only; see docs/mqtt.md.
      ({ t, ws } = await startLoggedInApp({
        env: { SKYVAULT_MQTT_URL: broker.url, SKYVAULT_MQTT_SHARED_GROUP: 'off' },
      }));
      await t.app.devices.bind(dockSn, ws);
    });
    after(async () => {
      await t?.close();
      await broker?.stop();
    });

    it('delivers an event sent while Skyvault was reconnecting, through its persistent session', async () => {
      await broker.stop();
      await broker.start();
      // Skyvault's client retries after 1 s at the earliest: the dock's event reaches the broker first.
      const dock = await connectDock(broker.url, dockSn, { username: 'dock', password: 'unused' });
      const sentWhileAway = !t.app.gateway.connected;
      const ack = await dock.send(
        'events',
        'highest_priority_upload_flighttask_media',
        { flight_id: 'after-restart' },
        { needReply: true, timeoutMs: 15_000 },
      );
      await dock.close();
      assert.ok(sentWhileAway, 'the event was published before Skyvault reconnected');
      assert.deepEqual(ack?.data, { result: 0 });
      const group = await t.app.database.db
        .selectFrom('fileGroups')
        .selectAll()
        .where('workspaceId', '=', ws)
        .where('id', '=', 'after-restart')
        .executeTakeFirst();
      assert.equal(group?.gatewaySn, dockSn);
    });
  },
);
