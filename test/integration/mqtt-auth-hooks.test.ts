/**
 * The hooks an external broker (EMQX's HTTP authenticator and authorizer) calls so that device accounts and
 * topic rules stay Skyvault's (issue 13): the same account check and gateway ACL as the embedded broker,
 * Skyvault's own internal principal, reserved and held client ids, and the shared secret. Real app (its
 * broker URL is never connected to: the app does not listen), driven over HTTP with inject().
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isInternalUsername } from '../../src/mqtt/internal-principal.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

const SECRET = 'hook-secret-for-tests-0123456789abcdef';
const DOCK = 'HOOK-DOCK-A';
const AIRCRAFT = 'HOOK-AIRCRAFT-A';
const OTHER_DOCK = 'HOOK-DOCK-B';

describe('MQTT broker hooks (EMQX HTTP authentication and authorization)', () => {
  let t: TestApp;
  let ws: string;
  const alice = { username: 'mqtt-alice', password: 'mqtt-pass-alice' };
  const bob = { username: 'mqtt-bob', password: 'mqtt-pass-bob' };
  let internal: { username: string; password: string; clientId: string };

  const hook = async (which: 'authenticate' | 'authorize', body: unknown, secret: string | null = SECRET) => {
    const response = await t.inject({
      method: 'POST',
      url: `/api/v1/mqtt/hooks/${which}`,
      headers: secret === null ? {} : { 'x-skyvault-hook-secret': secret },
      payload: body as Record<string, unknown>,
    });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  };
  const connect = (clientid: string, account: { username: string; password: string }) =>
    hook('authenticate', { clientid, ...account, peerhost: '127.0.0.1' });
  const may = async (clientid: string, username: string, action: string, topic: string) =>
    (await hook('authorize', { clientid, username, action, topic })).body.result;

  before(async () => {
    t = await startTestApp({
      env: { SKYVAULT_MQTT_URL: 'mqtt://127.0.0.1:1', SKYVAULT_MQTT_HOOK_SECRET: SECRET },
    });
    ws = t.app.bootstrap.defaultWorkspaceId;
    const other = await createWorkspace(t.app.database.db, 'Bob workspace');
    await createUser(t.app.database.db, ws, 'alice');
    await createUser(t.app.database.db, other, 'bob');
    await t.app.devices.bind(DOCK, ws);
    await t.app.devices.bind(OTHER_DOCK, other);
    const options = (
      t.app.gateway as unknown as { options: { username: string; password: string; clientId: string } }
    ).options;
    internal = { username: options.username, password: options.password, clientId: options.clientId };
  });
  after(async () => {
    await t?.close();
  });

  it('answers only the broker: 401 without the secret, 403 with another', async () => {
    for (const which of ['authenticate', 'authorize'] as const) {
      assert.equal((await hook(which, { clientid: 'c', username: 'u' }, null)).status, 401, which);
      assert.equal(
        (await hook(which, { clientid: 'c', username: 'u' }, 'not-the-secret')).status,
        403,
        which,
      );
      assert.equal((await hook(which, { clientid: 'c', username: 'u' }, `${SECRET}x`)).status, 403, which);
    }
  });

  it('allows a user’s MQTT credentials, and denies wrong or unknown ones', async () => {
    assert.deepEqual((await connect('alice-dock-1', alice)).body, { result: 'allow', is_superuser: false });
    assert.deepEqual((await connect('alice-dock-2', { ...alice, password: 'wrong' })).body, {
      result: 'deny',
      is_superuser: false,
    });
    assert.equal((await connect('x', { username: 'mqtt-nobody', password: 'x' })).body.result, 'deny');
    assert.equal(
      (await hook('authenticate', { clientid: 'no-password', username: alice.username })).body.result,
      'deny',
    );
  });

  it('lets Skyvault in as its internal principal, a superuser no device can be', async () => {
    assert.ok(isInternalUsername(internal.username), 'Skyvault logs in as an internal principal');
    assert.match(internal.clientId, /^skyvault-/);
    assert.deepEqual((await connect(internal.clientId, internal)).body, {
      result: 'allow',
      is_superuser: true,
    });
    const forged = { username: internal.username, password: 'guessed' };
    assert.equal((await connect(internal.clientId, forged)).body.result, 'deny');
    assert.equal(
      (await connect('any', { username: 'skyvault:internal:other', password: 'x' })).body.result,
      'deny',
    );
    // A device account may not take Skyvault's client id, nor any skyvault-… one.
    assert.equal((await connect(internal.clientId, alice)).body.result, 'deny');
    assert.equal((await connect('skyvault-0000000000000000', alice)).body.result, 'deny');
    assert.equal(
      await may(internal.clientId, internal.username, 'subscribe', 'thing/product/+/events'),
      'allow',
    );
  });

  it("keeps a client id to the account that uses it, and a bound dock's SN to its workspace", async () => {
    assert.equal((await connect('shared-client-id', alice)).body.result, 'allow');
    assert.equal((await connect('shared-client-id', bob)).body.result, 'deny', "another account's client id");
    assert.equal(
      (await connect('shared-client-id', alice)).body.result,
      'allow',
      'the same account reconnects',
    );
    assert.equal((await connect(OTHER_DOCK, alice)).body.result, 'deny', "another workspace's dock SN");
    assert.equal((await connect(OTHER_DOCK, bob)).body.result, 'allow', 'its own workspace');
  });

  it('holds each client id to one gateway of its workspace, with its aircraft', async () => {
    const id = 'alice-dock-acl';
    assert.equal((await connect(id, alice)).body.result, 'allow');
    assert.equal(await may(id, alice.username, 'subscribe', `thing/product/${DOCK}/services`), 'allow');
    assert.equal(await may(id, alice.username, 'publish', `sys/product/${DOCK}/status`), 'allow');
    assert.equal(await may(id, alice.username, 'publish', `thing/product/${OTHER_DOCK}/events`), 'deny');
    assert.equal(await may(id, alice.username, 'publish', 'thing/product/SOME-OTHER-DOCK/events'), 'deny');
    assert.equal(await may(id, alice.username, 'subscribe', 'thing/product/+/events'), 'deny');
    assert.equal(await may(id, alice.username, 'subscribe', '#'), 'deny');
    assert.equal(await may(id, alice.username, 'subscribe', '$share/g/thing/product/x/events'), 'deny');
    assert.equal(await may(id, alice.username, 'publish', 'other/topic'), 'deny');
    assert.equal(await may(id, alice.username, 'delete', `thing/product/${DOCK}/events`), 'deny');
    // The aircraft Skyvault recorded under the dock (its update_topo) may be used too.
    assert.equal(await may(id, alice.username, 'publish', `thing/product/${AIRCRAFT}/osd`), 'deny');
    await t.app.devices.updateTopology(
      DOCK,
      { domain: 3, type: 1, subType: 0, subDevices: [{ sn: AIRCRAFT, domain: 0, type: 67, subType: 0 }] },
      ws,
    );
    assert.equal(await may(id, alice.username, 'publish', `thing/product/${AIRCRAFT}/osd`), 'allow');

    // Bob's account may not claim the default workspace's dock, nor use Skyvault's client id.
    const bobs = 'bob-dock-acl';
    assert.equal((await connect(bobs, bob)).body.result, 'allow');
    assert.equal(await may(bobs, bob.username, 'subscribe', `thing/product/${DOCK}/services`), 'deny');
    assert.equal(await may(bobs, bob.username, 'publish', `thing/product/${OTHER_DOCK}/events`), 'allow');
    assert.equal(await may(internal.clientId, bob.username, 'subscribe', 'thing/product/+/events'), 'deny');
    assert.equal(await may('whoever', 'mqtt-nobody', 'publish', `thing/product/${DOCK}/events`), 'deny');
  });
});

describe('MQTT broker hooks without SKYVAULT_MQTT_HOOK_SECRET', () => {
  it('do not exist', async () => {
    const t = await startTestApp();
    try {
      const response = await t.inject({
        method: 'POST',
        url: '/api/v1/mqtt/hooks/authenticate',
        headers: { 'x-skyvault-hook-secret': 'anything' },
        payload: { clientid: 'c', username: 'u', password: 'p' },
      });
      assert.equal(response.statusCode, 404);
    } finally {
      await t.close();
    }
  });
});
