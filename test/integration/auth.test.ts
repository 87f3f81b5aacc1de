import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testDialects } from '../helpers/databases.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../helpers/test-app.ts';

for (const dialect of testDialects()) {
  describe(`login and tokens on ${dialect}`, () => {
    const clock = { t: Date.now() };
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ dialect, now: () => clock.t, captureLogs: true });
    });
    after(() => t.close());

    const get = (url: string, token?: string) =>
      t.inject({ method: 'GET', url, headers: token === undefined ? {} : { 'x-auth-token': token } });

    it('logs in and answers the DJI user shape with MQTT credentials', async () => {
      const response = await t.inject({
        method: 'POST',
        url: '/manage/api/v1/login',
        headers: { host: 'vault.lan:8080' },
        payload: { username: 'admin', password: ADMIN_PASSWORD, flag: 2 },
      });
      assert.equal(response.statusCode, 200);
      const body = response.json();
      assert.equal(body.code, 0);
      assert.equal(body.message, 'success');
      assert.deepEqual(Object.keys(body.data).sort(), [
        'access_token',
        'expires_at',
        'mqtt_addr',
        'mqtt_password',
        'mqtt_username',
        'role',
        'server_admin',
        'user_id',
        'user_type',
        'username',
        'workspace_id',
      ]);
      // The first admin administers the default workspace and the server.
      assert.equal(body.data.role, 'administrator');
      assert.equal(body.data.server_admin, true);
      assert.equal(body.data.username, 'admin');
      assert.equal(body.data.user_type, 1);
      assert.equal(body.data.workspace_id, t.app.bootstrap.defaultWorkspaceId);
      assert.equal(body.data.mqtt_addr, 'tcp://vault.lan:0');
      assert.ok(body.data.mqtt_password.length >= 20);
    });

    it('accepts numbers sent as strings (DJI clients drift)', async () => {
      const response = await t.inject({
        method: 'POST',
        url: '/manage/api/v1/login',
        payload: { username: 'admin', password: ADMIN_PASSWORD, flag: '1' },
      });
      assert.equal(response.json().code, 0);
    });

    it('refuses a wrong password or unknown user with the same HTTP 200 / code 401 answer and no token', async () => {
      for (const payload of [
        { username: 'admin', password: 'wrong', flag: 1 },
        { username: 'nobody', password: ADMIN_PASSWORD, flag: 1 },
      ]) {
        const response = await t.inject({ method: 'POST', url: '/manage/api/v1/login', payload });
        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.json(), { code: 401, message: 'Invalid username or password.' });
      }
    });

    it('answers the current user and workspace for a valid token', async () => {
      const login = await t.login();
      const user = (await get('/manage/api/v1/users/current', login.access_token)).json();
      assert.equal(user.code, 0);
      assert.equal(user.data.user_id, login.user_id);
      assert.equal(user.data.mqtt_password, login.mqtt_password);
      assert.equal(user.data.access_token, undefined);
      const workspace = (await get('/manage/api/v1/workspaces/current', login.access_token)).json();
      assert.equal(workspace.data.workspace_id, login.workspace_id);
      assert.equal(workspace.data.workspace_name, 'Default workspace');
      assert.equal(workspace.data.platform_name, 'Skyvault');
      assert.match(workspace.data.bind_code, /^[A-Z2-9]{6}$/);
    });

    it('answers 401 for a missing, tampered or expired token, and 403 for another workspace', async () => {
      const login = await t.login();
      const missing = await get('/manage/api/v1/users/current');
      assert.equal(missing.statusCode, 401);
      assert.equal(missing.json().code, 401);
      const [h, p, s] = login.access_token.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      const otherWorkspace = await createWorkspace(t.app.database.db);
      const forged = Buffer.from(JSON.stringify({ ...claims, workspace_id: otherWorkspace })).toString(
        'base64url',
      );
      assert.equal((await get('/manage/api/v1/users/current', `${h}.${forged}.${s}`)).statusCode, 401);
      assert.equal(
        (await get(`/manage/api/v1/devices/${otherWorkspace}/devices`, `${h}.${forged}.${s}`)).statusCode,
        401,
      );

      // Even the server administrator reaches another workspace's accounts only, never its content.
      const wrongWorkspace = await get(
        `/manage/api/v1/devices/${otherWorkspace}/devices`,
        login.access_token,
      );
      assert.equal(wrongWorkspace.statusCode, 403);
      assert.equal(wrongWorkspace.json().code, 403);

      const saved = clock.t;
      clock.t += 86401_000;
      try {
        const expired = await get('/manage/api/v1/users/current', login.access_token);
        assert.equal(expired.statusCode, 401);
        assert.match(expired.json().message, /expired/);
      } finally {
        clock.t = saved;
      }
    });

    it('refreshes a recently expired token, but not a tampered one or one past the window', async () => {
      const login = await t.login();
      const refresh = (token: string) =>
        t.inject({
          method: 'POST',
          url: '/manage/api/v1/token/refresh',
          headers: { 'x-auth-token': token, 'content-type': 'application/json' },
        });
      const saved = clock.t;
      try {
        clock.t += 86400_000 + 60_000;
        const refreshed = await refresh(login.access_token);
        assert.equal(refreshed.statusCode, 200);
        const body = refreshed.json();
        assert.equal(body.code, 0);
        assert.equal(body.data.user_id, login.user_id);
        assert.notEqual(body.data.access_token, login.access_token);
        assert.equal((await get('/manage/api/v1/users/current', body.data.access_token)).json().code, 0);

        assert.equal((await refresh(`${login.access_token}x`)).statusCode, 401);
        clock.t += 7 * 86400_000;
        assert.equal((await refresh(login.access_token)).statusCode, 401);
      } finally {
        clock.t = saved;
      }
      assert.equal((await t.inject({ method: 'POST', url: '/manage/api/v1/token/refresh' })).statusCode, 401);
    });

    it("lists only the caller's workspace users, paged, with MQTT passwords for administrators only", async () => {
      const db = t.app.database.db;
      const ws = t.app.bootstrap.defaultWorkspaceId;
      const base = Date.now();
      for (let i = 0; i < 4; i++) await createUser(db, ws, `pilot${i}`, 'pw', { createdAt: base + i });
      const other = await createWorkspace(db);
      await createUser(db, other, 'stranger');
      const login = await t.login();
      const page = (n: number, size: number) =>
        get(`/manage/api/v1/users/${ws}/users?page=${n}&page_size=${size}`, login.access_token);
      const first = (await page(1, 2)).json();
      assert.deepEqual(first.data.pagination, { page: 1, page_size: 2, total: 5 });
      assert.deepEqual(
        first.data.list.map((u: { username: string }) => u.username),
        ['admin', 'pilot0'],
      );
      const third = (await page(3, 2)).json();
      assert.deepEqual(
        third.data.list.map((u: { username: string }) => u.username),
        ['pilot3'],
      );
      assert.equal(third.data.list[0].workspace_name, 'Default workspace');
      assert.match(third.data.list[0].create_time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      // DJI's members page shows them, to administrators: an operator may not list the users at all.
      assert.equal(third.data.list[0].mqtt_password, 'mqtt-pass-pilot3');
      assert.equal(third.data.list[0].role, 'operator');
      const pilot = await t.login('pilot3', 'pw');
      const asPilot = await get(`/manage/api/v1/users/${ws}/users`, pilot.access_token);
      assert.equal(asPilot.statusCode, 403);
      assert.equal(asPilot.json().message, 'Your role in this workspace does not allow this.');
      const defaults = (await get(`/manage/api/v1/users/${ws}/users`, login.access_token)).json();
      assert.deepEqual(defaults.data.pagination, { page: 1, page_size: 10, total: 5 });
      assert.equal((await page(0, 2)).statusCode, 400);
    });

    it('a user of another workspace logs in to its own workspace only', async () => {
      const other = await createWorkspace(t.app.database.db, 'Team B');
      await createUser(t.app.database.db, other, 'bob', 'bob-password', { role: 'administrator' });
      const bob = await t.login('bob', 'bob-password');
      assert.equal(bob.workspace_id, other);
      const ws = t.app.bootstrap.defaultWorkspaceId;
      assert.equal((await get(`/manage/api/v1/users/${ws}/users`, bob.access_token)).statusCode, 403);
      const own = (await get(`/manage/api/v1/users/${other}/users`, bob.access_token)).json();
      assert.deepEqual(
        own.data.list.map((u: { username: string }) => u.username),
        ['bob'],
      );
    });

    it('ends the session of a deleted user with 401, also for refresh', async () => {
      const ws = t.app.bootstrap.defaultWorkspaceId;
      await createUser(t.app.database.db, ws, 'leaver', 'leaver-password');
      const leaver = await t.login('leaver', 'leaver-password');
      await t.app.database.db.deleteFrom('users').where('id', '=', leaver.user_id).execute();
      const current = await get('/manage/api/v1/users/current', leaver.access_token);
      assert.equal(current.statusCode, 401);
      const refreshed = await t.inject({
        method: 'POST',
        url: '/manage/api/v1/token/refresh',
        headers: { 'x-auth-token': leaver.access_token },
      });
      assert.equal(refreshed.statusCode, 401);
    });

    it('never writes passwords or tokens to the logs', async () => {
      const login = await t.login();
      await get('/manage/api/v1/users/current', login.access_token);
      const logs = t.logs.join('');
      assert.ok(logs.includes('/manage/api/v1/login'), 'requests are logged');
      for (const secret of [
        ADMIN_PASSWORD,
        login.access_token,
        login.mqtt_password,
        t.app.bootstrap.jwtSecret,
      ]) {
        assert.ok(!logs.includes(secret), `a secret reached the logs: ${secret.slice(0, 8)}…`);
      }
    });
  });
}
