/**
 * Client ids and sessions on the embedded broker (issue 13): one workspace's device account must not take
 * over Skyvault's own MQTT session (and with it every workspace's dock traffic), nor cut Skyvault off by
 * taking it over again and again, nor kick another account's dock or resume its persisted session. A dock
 * reconnecting with its own account and client id still takes its old connection over, as DJI docks
 * expect. Real Skyvault (test app), real MQTT.js clients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IClientOptions } from 'mqtt';
import { connectDock, familyTopic, mqttAccountOf, type TestDock, tryConnect } from '../helpers/dock.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';
import { until } from '../helpers/wait.ts';

const DOCK_A = 'TAKEOVER-DOCK-A';
const DOCK_B = 'TAKEOVER-DOCK-B';
const topology = { domain: 3, type: 1, sub_type: 0, thing_version: '1.1.2', sub_devices: [] };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A persistent MQTT 5 session, as Skyvault's own client and DJI docks open them. */
const persistent = (clientId: string, account: { username: string; password: string }): IClientOptions => ({
  ...account,
  clientId,
  protocolVersion: 5,
  clean: false,
  properties: { sessionExpiryInterval: 3600 },
});

/** CONNACK refusals that say "not this client id": 0x85 client identifier not valid, 0x87 not authorized. */
const ID_REFUSED = [0x85, 0x87];

describe('MQTT client ids and sessions are held to their account (embedded broker)', () => {
  let t: TestApp;
  let url: string;
  let accountA: { username: string; password: string };
  const mallory = { username: 'mqtt-mallory', password: 'mqtt-pass-mallory' };
  let skyvaultClientId: string;
  let dockA: TestDock;
  let dockB: TestDock;

  before(async () => {
    let token: string;
    ({ t, token } = await startLoggedInApp({
      env: { SKYVAULT_DEVICE_REPLY_TIMEOUT: '500', SKYVAULT_DEVICE_RETRIES: '0' },
    }));
    url = `mqtt://127.0.0.1:${t.app.broker!.port}`;
    accountA = await mqttAccountOf(t, token);
    const other = await createWorkspace(t.app.database.db, 'Mallory workspace');
    await createUser(t.app.database.db, other, 'mallory');
    skyvaultClientId = (t.app.gateway as unknown as { options: { clientId: string } }).options.clientId;
    assert.match(skyvaultClientId, /^skyvault-/);
    dockA = await connectDock(url, DOCK_A, accountA);
    assert.equal((await dockA.send('status', 'update_topo', topology))?.data.result, 0);
    dockB = await connectDock(url, DOCK_B, mallory);
    assert.equal((await dockB.send('status', 'update_topo', topology))?.data.result, 0);
    assert.notEqual((await t.app.devices.find(DOCK_A))?.workspaceId, other);
    assert.equal((await t.app.devices.find(DOCK_B))?.workspaceId, other);
  });

  after(async () => {
    await dockA?.close();
    await dockB?.close();
    await t?.close();
  });

  it("refuses another workspace's device account under Skyvault's client id; Skyvault keeps handling the dock", async () => {
    const received: string[] = [];
    const listen = (topic: string) => received.push(topic);
    const first = await tryConnect(url, persistent(skyvaultClientId, mallory), listen);
    // Dock A (the default workspace) reports while the attacker holds, or tries to hold, the session.
    const ack = dockA.send(
      'events',
      'highest_priority_upload_flighttask_media',
      { flight_id: 'takeover-a' },
      { needReply: true, timeoutMs: 10_000 },
    );
    if (first.client) {
      // Leaves and resumes the session at once: what was queued for Skyvault is delivered to it.
      await sleep(300);
      await first.client.endAsync();
      const again = await tryConnect(url, persistent(skyvaultClientId, mallory), listen);
      await sleep(500);
      await again.client?.endAsync(true);
    }
    const reply = await ack;
    assert.deepEqual(
      {
        received,
        refused: first.refused !== undefined && ID_REFUSED.includes(first.refused),
        reply: reply?.data,
        connected: t.app.gateway.connected,
      },
      { received: [], refused: true, reply: { result: 0 }, connected: true },
      "the attacker is refused and receives nothing; Skyvault, still connected, answers the dock's event",
    );
  });

  it('is not cut off by a loop of takeover attempts', async () => {
    let connects = 0;
    let refusals = 0;
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const attempt = await tryConnect(url, { ...persistent(skyvaultClientId, mallory), clean: true });
        if (attempt.client) {
          connects += 1;
          await attempt.client.endAsync(true);
        } else refusals += 1;
        await sleep(20);
      }
    })();
    let disconnectedSeen = false;
    const watch = setInterval(() => {
      if (!t.app.gateway.connected) disconnectedSeen = true;
    }, 10);
    const replies: (number | undefined)[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const reply = await dockA.send('requests', 'no_such_method', {}, { timeoutMs: 3000 });
        replies.push(reply?.data.result);
      }
    } finally {
      stop = true;
      await loop;
      clearInterval(watch);
    }
    assert.ok(connects + refusals > 0, 'the loop ran');
    assert.deepEqual(
      { connects, disconnectedSeen, replies },
      { connects: 0, disconnectedSeen: false, replies: Array(8).fill(1) },
      'no attempt accepted, Skyvault never disconnected, every request of the dock answered',
    );
  });

  it("refuses another account reusing a connected dock's client id; the dock's own account takes it over", async () => {
    const sn = 'TAKEOVER-DOCK-SN-ID';
    // The simulator, like a real dock, uses its SN as client id.
    const holder = await tryConnect(url, persistent(sn, accountA));
    assert.ok(holder.client, 'the dock connects');
    const dockClient = holder.client;
    let dockDisconnected = false;
    dockClient.on('close', () => (dockDisconnected = true));
    await dockClient.subscribeAsync(`${familyTopic(sn, 'status')}_reply`, { qos: 1 });

    const intruder = await tryConnect(url, persistent(sn, mallory));
    await sleep(300);
    await intruder.client?.endAsync(true);
    assert.deepEqual(
      {
        refused: intruder.refused !== undefined && ID_REFUSED.includes(intruder.refused),
        dockDisconnected,
        dockConnected: dockClient.connected,
      },
      { refused: true, dockDisconnected: false, dockConnected: true },
      "another account's CONNECT is refused and the dock stays connected",
    );

    // The same account reconnecting (a dock after a network drop) takes its session over, as MQTT says.
    const replies: string[] = [];
    const again = await tryConnect(url, persistent(sn, accountA), (topic) => replies.push(topic));
    assert.ok(again.client, 'the same account reconnects under its client id');
    await until('the old connection to be closed', () => (dockDisconnected ? true : undefined), 10_000);
    // Its subscription came back with the session; the reply reaches the new connection.
    await again.client.publishAsync(
      familyTopic(sn, 'status'),
      JSON.stringify({
        tid: 'reconnect-1',
        bid: 'b',
        timestamp: Date.now(),
        method: 'update_topo',
        data: topology,
      }),
      { qos: 1 },
    );
    await until('the status_reply', () => (replies.length > 0 ? true : undefined), 10_000);
    assert.equal(replies[0], `${familyTopic(sn, 'status')}_reply`);
    await dockClient.endAsync(true);
    await again.client.endAsync(true, { properties: { sessionExpiryInterval: 0 } });
  });

  it('reserves skyvault-… client ids and the internal namespace to Skyvault, and SNs to their workspace', async () => {
    const reserved = await tryConnect(url, {
      ...mallory,
      clientId: 'skyvault-0000000000000000',
      protocolVersion: 5,
    });
    await reserved.client?.endAsync(true);
    assert.equal(reserved.refused, 0x85, 'a skyvault-… client id is not for devices');
    const internal = await tryConnect(url, {
      username: 'skyvault:internal:guess',
      password: 'guess',
      clientId: 'whatever',
      protocolVersion: 5,
    });
    await internal.client?.endAsync(true);
    assert.equal(internal.refused, 0x86, 'bad user name or password');
    // Dock B's SN (bound to Mallory's workspace) as the client id of the default workspace's account.
    const sn = await tryConnect(url, { ...accountA, clientId: DOCK_B, protocolVersion: 4 });
    await sn.client?.endAsync(true);
    assert.equal(sn.refused, 2, "another workspace's dock SN is not a client id for this account (3.1.1: 2)");
    const own = await tryConnect(url, { ...mallory, clientId: DOCK_B });
    assert.ok(own.client, 'its own workspace may use it');
    await own.client.endAsync();
  });

  it('frees a client id once its session ended with its connection', async () => {
    const clientId = 'short-lived-session';
    const first = await tryConnect(url, { ...accountA, clientId, protocolVersion: 5, clean: true });
    assert.ok(first.client);
    const taken = await tryConnect(url, { ...mallory, clientId, protocolVersion: 5 });
    await taken.client?.endAsync(true);
    assert.equal(taken.refused, 0x85, 'held while connected');
    await first.client.endAsync(); // session expiry 0: the session ends here
    const later = await tryConnect(url, { ...mallory, clientId, protocolVersion: 5 });
    assert.ok(later.client, 'free once the session is gone');
    await later.client.endAsync();
  });

  it("does not resume one account's persisted session for another account", async () => {
    const sn = DOCK_A;
    const clientId = 'dock-a-persistent-session';
    const services = `thing/product/${sn}/services`;
    const first = await tryConnect(url, persistent(clientId, accountA));
    assert.ok(first.client);
    await first.client.subscribeAsync(services, { qos: 1 });
    await first.client.endAsync(); // the session stays (expiry 3600 s)
    // A command for the dock while it is away: queued in its session.
    await assert.rejects(t.app.gateway.call(sn, 'queued_command', { secret: 'for dock A' }));

    const received: string[] = [];
    const intruder = await tryConnect(url, persistent(clientId, mallory), (topic) => received.push(topic));
    await sleep(500);
    await intruder.client?.endAsync(true);
    assert.deepEqual(
      {
        received,
        refused: intruder.refused !== undefined && ID_REFUSED.includes(intruder.refused),
      },
      { received: [], refused: true },
      "B's CONNECT under A's persisted session is refused, and nothing of A's session reaches B",
    );

    // A resumes its session and gets what was queued.
    const resumed: string[] = [];
    const back = await tryConnect(url, persistent(clientId, accountA), (topic) => resumed.push(topic));
    assert.ok(back.client);
    await until('the queued command', () => (resumed.length > 0 ? true : undefined), 10_000);
    assert.equal(resumed[0], services);
    await back.client.endAsync(true, { properties: { sessionExpiryInterval: 0 } });
  });
});
