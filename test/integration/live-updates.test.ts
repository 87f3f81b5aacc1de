import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { testDialects } from '../helpers/databases.ts';
import { connectDock, mqttAccountOf } from '../helpers/dock.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { startLoggedInApp, startTestApp, type TestApp } from '../helpers/test-app.ts';

interface Live {
  messages: { biz_code: string; data: Record<string, unknown> }[];
  /** Resolves with the first message (seen or to come) matching. */
  next(bizCode: string, match?: (data: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  close(): void;
}

async function openLive(port: number, token: string): Promise<Live> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws?x-auth-token=${encodeURIComponent(token)}`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const messages: Live['messages'] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (raw: Buffer) => {
    messages.push(JSON.parse(raw.toString()) as Live['messages'][number]);
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    messages,
    async next(bizCode, match = () => true) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const found = messages.find((m) => m.biz_code === bizCode && match(m.data));
        if (found) return found.data;
        if (Date.now() > deadline) throw new Error(`no ${bizCode} message; got ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close: () => socket.close(),
  };
}

const port = (t: TestApp) => (t.app.http.server.address() as { port: number }).port;

for (const dialect of testDialects()) {
  describe(`live updates over WebSocket (${dialect})`, () => {
    let t: TestApp;
    let token: string;
    let ws: string;
    let account: { username: string; password: string };
    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({ dialect }));
      account = await mqttAccountOf(t, token);
    });
    after(() => t.close());

    it('refuses a connection without a valid token', async () => {
      for (const query of ['', '?x-auth-token=not-a-token']) {
        const socket = new WebSocket(`ws://127.0.0.1:${port(t)}/api/v1/ws${query}`);
        const error = await new Promise<Error>((resolve) => socket.once('error', resolve));
        assert.match(error.message, /401/);
      }
    });

    it('tells the workspace when docks come and go and when media arrive; other workspaces hear nothing', async () => {
      const live = await openLive(port(t), token);
      const otherWs = await createWorkspace(t.app.database.db, 'Elsewhere');
      await createUser(t.app.database.db, otherWs, 'elsewhere', 'elsewhere-password');
      const otherToken = (await t.login('elsewhere', 'elsewhere-password')).access_token;
      const other = await openLive(port(t), otherToken);

      // MQTT over WebSocket on the HTTP port, too.
      const dock = await connectDock(`ws://127.0.0.1:${port(t)}/mqtt`, 'LIVE-DOCK', account);
      await dock.send('status', 'update_topo', {
        domain: 3,
        type: 1,
        sub_type: 0,
        sub_devices: [{ sn: 'LIVE-AIRCRAFT', domain: 0, type: 67, sub_type: 0 }],
      });
      const online = await live.next('device_online', (d) => d.sn === 'LIVE-DOCK');
      assert.equal(online.device_model_key, '3-1-0');
      assert.equal(online.domain, 3);
      // DJI's map labels its markers with the callsign: the SN until the device is given one.
      assert.equal(online.device_callsign, 'LIVE-DOCK');
      assert.equal(
        (await live.next('device_online', (d) => d.sn === 'LIVE-AIRCRAFT')).parent_sn,
        'LIVE-DOCK',
      );
      await live.next('device_update_topo', (d) => d.sn === 'LIVE-DOCK');

      const key = `${ws}/media/live/DJI_0001.JPG`;
      await t.app.storage.put(key, Buffer.from('live photo'), { contentType: 'image/jpeg' });
      await dock.send(
        'events',
        'highest_priority_upload_flighttask_media',
        { flight_id: 'live-flight' },
        { needReply: true },
      );
      assert.deepEqual(await live.next('highest_priority_upload_flighttask_media'), {
        sn: 'LIVE-DOCK',
        job_id: 'live-flight',
        pre_job_id: null,
      });
      await dock.send(
        'events',
        'file_upload_callback',
        { file: { object_key: key, name: 'DJI_0001.JPG', ext: { flight_id: 'live-flight' } } },
        { needReply: true },
      );
      const created = await live.next('media_file_created', (d) => d.object_key === key);
      assert.equal(created.source, 'dock');
      assert.equal(created.drone_sn, 'LIVE-AIRCRAFT');
      const counted = await live.next('file_upload_callback', (d) => d.job_id === 'live-flight');
      assert.equal(counted.uploaded_count, 1);
      assert.equal(counted.device_sn, 'LIVE-AIRCRAFT');

      // A burst of a flight's files: the counter hears the count after them, not once per file
      // (PROGRESS_INTERVAL_MS); every count it hears is right at its time, so they never go down.
      const burst = Array.from({ length: 20 }, (_, i) => `${ws}/media/live/burst_${i}.JPG`);
      for (const k of burst) await t.app.storage.put(k, Buffer.from(k), { contentType: 'image/jpeg' });
      await Promise.all(
        burst.map((k) =>
          dock.send(
            'events',
            'file_upload_callback',
            { file: { object_key: k, name: k.split('/').pop(), ext: { flight_id: 'burst-flight' } } },
            { needReply: true },
          ),
        ),
      );
      await live.next('file_upload_callback', (d) => d.job_id === 'burst-flight' && d.uploaded_count === 20);
      const heard = live.messages
        .filter((m) => m.biz_code === 'file_upload_callback' && m.data.job_id === 'burst-flight')
        .map((m) => m.data.uploaded_count as number);
      assert.ok(heard.length < burst.length, `one message per file: ${JSON.stringify(heard)}`);
      assert.deepEqual(
        heard,
        [...heard].sort((a, b) => a - b),
      );

      await dock.close();
      assert.equal(
        (await live.next('device_offline', (d) => d.sn === 'LIVE-DOCK')).device_callsign,
        'LIVE-DOCK',
      );
      await live.next('device_offline', (d) => d.sn === 'LIVE-AIRCRAFT');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(other.messages, [], 'another workspace hears nothing');
      live.close();
      other.close();
    });
  });
}

for (const dialect of testDialects().filter((d) => d === 'postgres')) {
  describe('live updates across two instances on one PostgreSQL', () => {
    let first: TestApp;
    let second: TestApp;
    let token: string;
    before(async () => {
      ({ t: first, token } = await startLoggedInApp({ dialect }));
      const config = first.app.config.database;
      second = await startTestApp({
        dialect,
        env: { SKYVAULT_DATABASE_URL: config.kind === 'postgres' ? config.url : '' },
      });
      await second.app.listen();
    });
    after(async () => {
      await second?.close();
      await first.close();
    });

    it('reaches a browser connected to the other instance', async () => {
      const live = await openLive(port(second), token);
      const dock = await connectDock(
        `mqtt://127.0.0.1:${first.app.broker!.port}`,
        'FAR-DOCK',
        await mqttAccountOf(first, token),
      );
      await dock.send('status', 'update_topo', { domain: 3, type: 1, sub_type: 0, sub_devices: [] });
      assert.equal((await live.next('device_online', (d) => d.sn === 'FAR-DOCK')).online, true);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(
        live.messages.filter((m) => m.biz_code === 'device_online' && m.data.sn === 'FAR-DOCK').length,
        1,
        'delivered once',
      );
      await dock.close();
      live.close();
    });
  });
}
