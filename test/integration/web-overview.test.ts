/**
 * `GET /api/v1/workspaces/{workspace_id}/overview`: what the web app's connect guide shows. The device
 * password goes to administrators only; the addresses are the ones devices reach; other workspaces 403.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

describe('the web overview', () => {
  let t: TestApp;
  let token: string;
  let ws: string;

  before(async () => {
    ({ t, token, ws } = await startLoggedInApp({
      env: { SKYVAULT_MAP_TILES: 'https://tiles.example/{z}/{x}/{y}.png' },
    }));
  });
  after(() => t.close());

  const overview = async (auth: string, workspace = ws) =>
    t.inject({
      method: 'GET',
      url: `/api/v1/workspaces/${workspace}/overview`,
      headers: { 'x-auth-token': auth, host: 'skyvault.example:8080' },
    });

  it('gives an administrator the workspace, the addresses to type, the device account and the map tiles', async () => {
    const response = await overview(token);
    assert.equal(response.statusCode, 200);
    const { data } = response.json();
    // Read through the repository: the database keeps the password sealed.
    const admin = (await t.app.repos.users.findByUsername('admin'))!;
    assert.equal(data.workspace.id, ws);
    assert.match(data.workspace.bind_code, /^\w+$/);
    assert.equal(data.pilot_url, 'http://skyvault.example:8080/pilot');
    assert.match(data.mqtt_address, /^tcp:\/\/skyvault\.example:\d+$/);
    assert.equal(data.mqtt_username, admin.mqttUsername);
    assert.equal(data.mqtt_password, admin.mqttPassword);
    assert.equal(data.map_tiles, 'https://tiles.example/{z}/{x}/{y}.png');
  });

  it('hides the device password from a viewer (no MQTT access), and refuses another workspace', async () => {
    await createUser(t.app.database.db, ws, 'viewer-overview', 'viewer-overview-password', {
      role: 'viewer',
    });
    const viewer = await t.login('viewer-overview', 'viewer-overview-password');
    const response = await overview(viewer.access_token);
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().data.mqtt_password, null);
    assert.equal(response.json().data.mqtt_username, viewer.mqtt_username);
    assert.equal(response.json().data.user.role, 'viewer');
    assert.equal(viewer.mqtt_password, '', 'nor in the login answer');
    // An operator connects devices: it sees its own device account's password, as the login gave it.
    await createUser(t.app.database.db, ws, 'operator-overview', 'operator-overview-password');
    const operator = await t.login('operator-overview', 'operator-overview-password');
    assert.equal((await overview(operator.access_token)).json().data.mqtt_password, operator.mqtt_password);
    const other = await createWorkspace(t.app.database.db, 'Overview elsewhere');
    assert.equal((await overview(token, other)).statusCode, 403);
  });
});
