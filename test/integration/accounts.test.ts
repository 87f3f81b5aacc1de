/**
 * Accounts, sessions and workspaces (issue 13, docs/accounts.md): the account API as administrators and
 * server administrators use it, what each change does at once to the user's tokens and MQTT connections,
 * the sessions' own rules (logout, password change, absolute lifetime, which client a role may use), and
 * deleting a workspace with everything it holds. Real Skyvault on SQLite and PostgreSQL, real HTTP
 * (inject), real MQTT clients on the embedded broker, real object storage.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { ERRORS } from '../../src/shared/app-error.ts';
import { testDialects } from '../helpers/databases.ts';
import { connectDock, dockTopology, tryConnect } from '../helpers/dock.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../helpers/test-app.ts';

/** Logins are not rate-limited here: tests log in often, and fail logins on purpose. */
const NO_LIMITS = { SKYVAULT_LOGIN_LIMIT_ACCOUNT: '0', SKYVAULT_LOGIN_LIMIT_ADDRESS: '0' };

interface Envelope<T = Record<string, unknown>> {
  code: number;
  message: string;
  data: T;
}

interface LoggedIn {
  user_id: string;
  username: string;
  workspace_id: string;
  access_token: string;
  expires_at: number;
  user_type: number;
  mqtt_username: string;
  mqtt_password: string;
  role: string;
}

interface Account {
  user_id: string;
  username: string;
  role: string;
  disabled: boolean;
  server_admin: boolean;
  mqtt_username: string;
  sessions: number;
}

/** Connects once as a device account (MQTT 5), no reconnects: the client, or the refusal's code. */
const tryMqtt = (url: string, account: { username: string; password: string }) =>
  tryConnect(url, { ...account, connectTimeout: 5000, protocolVersion: 5 });

/**
 * Resolves when the broker closes the client's connection; rejects if it is still open after 15 s.
 * Call it right before the action that should close it: the clock starts at the call.
 */
const closedByBroker = (client: MqttClient) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the MQTT connection is still open')), 15_000);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** The JSON API of one test app, with the envelope and status of each answer. */
function apiOf(t: TestApp) {
  const request = async <T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    token: string | undefined,
    payload?: unknown,
  ) => {
    const response = await t.inject({
      method,
      url,
      headers: token === undefined ? {} : { 'x-auth-token': token },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    return { status: response.statusCode, body: response.json() as Envelope<T> };
  };
  return {
    request,
    async login(username: string, password: string, flag: 1 | 2 = 1) {
      return request<LoggedIn>('POST', '/manage/api/v1/login', undefined, { username, password, flag });
    },
    async loggedIn(username: string, password: string, flag: 1 | 2 = 1): Promise<LoggedIn> {
      const { body } = await this.login(username, password, flag);
      assert.equal(body.code, 0, `${username} logs in: ${JSON.stringify(body)}`);
      return body.data;
    },
    current: (token: string) => request<LoggedIn>('GET', '/manage/api/v1/users/current', token),
    refresh: (token: string) => request<LoggedIn>('POST', '/manage/api/v1/token/refresh', token),
  };
}

/** An answer is exactly this catalogue error (status, code and message). */
function assertError(
  answer: { status: number; body: Envelope<unknown> },
  name: keyof typeof ERRORS,
  message?: string,
) {
  const spec = ERRORS[name];
  assert.deepEqual(
    { status: answer.status, code: answer.body.code, message: answer.body.message },
    { status: spec.status, code: spec.code, message: message ?? spec.message },
  );
}

for (const dialect of testDialects()) {
  describe(`the account API and sessions (${dialect})`, () => {
    let t: TestApp;
    let api: ReturnType<typeof apiOf>;
    let ws: string;
    let admin: LoggedIn;
    let mqttUrl: string;
    const clients: MqttClient[] = [];
    /** Moves the app's clock (a workspace deletion's last step waits for credentials to expire). */
    let skewMs = 0;

    /** A user created through the API (as the admin), logged in from the client its role uses. */
    async function newUser(role: string, workspaceId = ws, token = admin.access_token) {
      const username = `${role}-${Math.random().toString(36).slice(2, 8)}`;
      const created = await api.request<{ user: Account; password: string }>(
        'POST',
        `/api/v1/workspaces/${workspaceId}/users`,
        token,
        { username, role },
      );
      assert.equal(created.body.code, 0, JSON.stringify(created.body));
      const { password, user } = created.body.data;
      const session = await api.loggedIn(username, password, role === 'device' ? 2 : 1);
      return { ...user, password, session };
    }

    async function connected(account: { username: string; password: string }): Promise<MqttClient> {
      const attempt = await tryMqtt(mqttUrl, account);
      assert.ok(attempt.client, `MQTT connects as ${account.username} (refused ${attempt.refused})`);
      clients.push(attempt.client);
      return attempt.client;
    }

    const mqttOf = (session: LoggedIn) => ({
      username: session.mqtt_username,
      password: session.mqtt_password,
    });
    const users = (workspaceId = ws) =>
      api.request<{ list: Account[] }>('GET', `/api/v1/workspaces/${workspaceId}/users`, admin.access_token);
    const change = (userId: string, body: object, token = admin.access_token) =>
      api.request<Account>('PATCH', `/api/v1/workspaces/${ws}/users/${userId}`, token, body);

    before(async () => {
      t = await startTestApp({ dialect, env: NO_LIMITS, now: () => Date.now() + skewMs });
      await t.app.listen();
      api = apiOf(t);
      ws = t.app.bootstrap.defaultWorkspaceId;
      admin = await api.loggedIn('admin', ADMIN_PASSWORD);
      mqttUrl = `mqtt://127.0.0.1:${t.app.broker!.port}`;
    });
    after(async () => {
      for (const client of clients) await client.endAsync(true).catch(() => {});
      await t?.close();
    });

    it('creates a user of each role; the generated password is answered once and logs in', async () => {
      for (const role of ['administrator', 'operator', 'viewer', 'device']) {
        const user = await newUser(role);
        assert.equal(user.role, role);
        assert.equal(user.disabled, false);
        assert.equal(user.server_admin, false);
        assert.equal(user.mqtt_username, user.username);
        assert.ok(user.password.length >= 16, user.password);
        assert.equal(user.session.role, role);
        assert.equal(user.session.user_type, role === 'device' ? 2 : 1);
        // Viewers have no MQTT access: no password to show them.
        assert.equal(user.session.mqtt_password === '', role === 'viewer');
      }
      const listed = (await users()).body.data.list;
      assert.ok(listed.length >= 5);
      for (const item of listed) assert.equal('password' in item || 'password_hash' in item, false);

      const chosen = await api.request<{ user: Account; password: string }>(
        'POST',
        `/api/v1/workspaces/${ws}/users`,
        admin.access_token,
        { username: 'chosen-one', role: 'operator', password: 'a-chosen-password' },
      );
      assert.equal(chosen.body.data.password, 'a-chosen-password');
      await api.loggedIn('chosen-one', 'a-chosen-password');
    });

    it('refuses a taken username (also an MQTT username), a bad role, a short password', async () => {
      const taken = await api.request('POST', `/api/v1/workspaces/${ws}/users`, admin.access_token, {
        username: 'admin',
        role: 'viewer',
      });
      assertError(taken, 'UsernameTaken');
      // Users created outside the API have an MQTT username of their own (mqtt-<name>): taken as well.
      await createUser(t.app.database.db, ws, 'carol', 'carol-password', { role: 'operator' });
      const mqttTaken = await api.request('POST', `/api/v1/workspaces/${ws}/users`, admin.access_token, {
        username: 'mqtt-carol',
        role: 'operator',
      });
      assertError(mqttTaken, 'UsernameTaken');
      for (const body of [
        { username: 'bad-role', role: 'superuser' },
        { username: 'no-role' },
        { username: 'short', role: 'operator', password: 'short' },
        { username: 'has space', role: 'operator' },
      ]) {
        const refused = await api.request('POST', `/api/v1/workspaces/${ws}/users`, admin.access_token, body);
        assert.equal(refused.status, 400, JSON.stringify(body));
        assert.equal(refused.body.code, 400);
      }
      const names = (await users()).body.data.list.map((u) => u.username);
      for (const name of ['bad-role', 'no-role', 'short', 'has space']) assert.ok(!names.includes(name));
    });

    it('never makes a server administrator from the API, whatever the body carries', async () => {
      const workspaceAdmin = await newUser('administrator');
      for (const extra of [{ serverAdmin: true }, { server_admin: true }]) {
        const username = `sneaky-${Object.keys(extra)[0]}`.replace('_', '-');
        const created = await api.request<{ user: Account }>(
          'POST',
          `/api/v1/workspaces/${ws}/users`,
          workspaceAdmin.session.access_token,
          { username, role: 'administrator', ...extra },
        );
        assert.equal(created.body.data?.user.server_admin ?? false, false, JSON.stringify(created.body));
        const row = await t.app.repos.users.findByUsername(username);
        assert.equal(row ? Number(row.serverAdmin) : 0, 0, `${username} is not a server administrator`);
      }
    });

    it("a role change applies to the user's tokens already issued", async () => {
      const other = await newUser('administrator');
      const route = `/api/v1/workspaces/${ws}/users`;
      assert.equal((await api.request('GET', route, other.session.access_token)).body.code, 0);
      const changed = await change(other.user_id, { role: 'operator' });
      assert.equal(changed.body.data.role, 'operator');
      assertError(await api.request('GET', route, other.session.access_token), 'RoleForbidden');
      // Still an operator: the library, and the same session.
      const library = await api.request('GET', `/api/v1/workspaces/${ws}/media`, other.session.access_token);
      assert.equal(library.body.code, 0);
      const back = await change(other.user_id, { role: 'administrator' });
      assert.equal(back.body.data.role, 'administrator');
      assert.equal((await api.request('GET', route, other.session.access_token)).body.code, 0);
    });

    it('made a viewer, a user loses MQTT: the live connection closes and a new one is refused', async () => {
      const user = await newUser('operator');
      const client = await connected(mqttOf(user.session));
      const gone = closedByBroker(client);
      assert.equal((await change(user.user_id, { role: 'viewer' })).body.code, 0);
      await gone;
      assert.ok((await tryMqtt(mqttUrl, mqttOf(user.session))).refused !== undefined);
      // The web session goes on, read-only.
      const current = await api.current(user.session.access_token);
      assert.equal(current.body.data.role, 'viewer');
      assert.equal(current.body.data.mqtt_password, '');
    });

    it("disabling ends the user's sessions and MQTT connections; enabling lets them back in", async () => {
      const user = await newUser('operator');
      const client = await connected(mqttOf(user.session));
      const gone = closedByBroker(client);
      const disabled = await change(user.user_id, { disabled: true });
      assert.equal(disabled.body.data.disabled, true);
      assert.equal(disabled.body.data.sessions, 0);
      assertError(await api.current(user.session.access_token), 'SessionEnded');
      assertError(await api.refresh(user.session.access_token), 'SessionEnded');
      assertError(await api.login(user.username, user.password), 'AccountDisabled');
      // A wrong password says nothing about the account's state.
      assertError(await api.login(user.username, 'not-the-password'), 'InvalidCredentials');
      await gone;
      assert.ok((await tryMqtt(mqttUrl, mqttOf(user.session))).refused !== undefined);
      assert.equal((await users()).body.data.list.find((u) => u.user_id === user.user_id)?.disabled, true);

      const enabled = await change(user.user_id, { disabled: false });
      assert.equal(enabled.body.data.disabled, false);
      const again = await api.loggedIn(user.username, user.password);
      assert.equal((await api.current(again.access_token)).body.code, 0);
      // The old session stays ended.
      assertError(await api.current(user.session.access_token), 'SessionEnded');
      await connected(mqttOf(user.session));
    });

    it("resetting a password: the old one fails, the new one works, the user's tokens end", async () => {
      const user = await newUser('operator');
      const second = await api.loggedIn(user.username, user.password);
      const reset = await api.request<{ password: string }>(
        'POST',
        `/api/v1/workspaces/${ws}/users/${user.user_id}/password`,
        admin.access_token,
      );
      const { password } = reset.body.data;
      assert.ok(password.length >= 16);
      assert.notEqual(password, user.password);
      assertError(await api.login(user.username, user.password), 'InvalidCredentials');
      for (const token of [user.session.access_token, second.access_token]) {
        assertError(await api.current(token), 'SessionEnded');
      }
      const fresh = await api.loggedIn(user.username, password);
      assert.equal((await api.current(fresh.access_token)).body.code, 0);
      // The admin's own session is untouched.
      assert.equal((await api.current(admin.access_token)).body.code, 0);
    });

    it('an administrator resetting their own password keeps the session that asked, not the others', async () => {
      const self = await newUser('administrator');
      const other = await api.loggedIn(self.username, self.password);
      const reset = await api.request<{ password: string }>(
        'POST',
        `/api/v1/workspaces/${ws}/users/${self.user_id}/password`,
        self.session.access_token,
      );
      assert.equal(reset.body.code, 0);
      assert.equal((await api.current(self.session.access_token)).body.code, 0);
      assertError(await api.current(other.access_token), 'SessionEnded');
      await api.loggedIn(self.username, reset.body.data.password);
    });

    it('rotating the MQTT password closes the live connection; the old one is refused, the new one works', async () => {
      const user = await newUser('device');
      const old = mqttOf(user.session);
      const client = await connected(old);
      const gone = closedByBroker(client);
      const rotated = await api.request<{ mqtt_username: string; mqtt_password: string }>(
        'POST',
        `/api/v1/workspaces/${ws}/users/${user.user_id}/mqtt-password`,
        admin.access_token,
      );
      assert.equal(rotated.body.data.mqtt_username, old.username);
      assert.notEqual(rotated.body.data.mqtt_password, old.password);
      await gone;
      assert.ok((await tryMqtt(mqttUrl, old)).refused !== undefined);
      await connected({ username: old.username, password: rotated.body.data.mqtt_password });
      // The user sees the new one; their web session is not affected.
      const current = await api.current(user.session.access_token);
      assert.equal(current.body.data.mqtt_password, rotated.body.data.mqtt_password);
    });

    it('removing a user ends their tokens and MQTT connections', async () => {
      const user = await newUser('operator');
      const client = await connected(mqttOf(user.session));
      const gone = closedByBroker(client);
      const removed = await api.request(
        'DELETE',
        `/api/v1/workspaces/${ws}/users/${user.user_id}`,
        admin.access_token,
      );
      assert.equal(removed.body.code, 0);
      assertError(await api.current(user.session.access_token), 'SessionEnded');
      assertError(await api.refresh(user.session.access_token), 'SessionEnded');
      assertError(await api.login(user.username, user.password), 'InvalidCredentials');
      await gone;
      assert.ok((await tryMqtt(mqttUrl, mqttOf(user.session))).refused !== undefined);
      assert.ok(!(await users()).body.data.list.some((u) => u.user_id === user.user_id));
      const twice = await api.request(
        'DELETE',
        `/api/v1/workspaces/${ws}/users/${user.user_id}`,
        admin.access_token,
      );
      assertError(twice, 'UserNotInWorkspace');
    });

    it('an administrator cannot demote, disable or remove themself (409 NotYourself)', async () => {
      assertError(await change(admin.user_id, { disabled: true }), 'NotYourself');
      assertError(await change(admin.user_id, { role: 'operator' }), 'NotYourself');
      assertError(
        await api.request('DELETE', `/api/v1/workspaces/${ws}/users/${admin.user_id}`, admin.access_token),
        'NotYourself',
      );
      const me = (await users()).body.data.list.find((u) => u.user_id === admin.user_id);
      assert.deepEqual(
        { role: me?.role, disabled: me?.disabled },
        { role: 'administrator', disabled: false },
      );
      assert.equal((await api.current(admin.access_token)).body.code, 0);
      // Another administrator can.
      const other = await newUser('administrator');
      const peer = await newUser('administrator');
      const demoted = await change(peer.user_id, { role: 'operator' }, other.session.access_token);
      assert.equal(demoted.body.data.role, 'operator');
    });

    it("a workspace administrator cannot take over a server administrator's account", async () => {
      // A reset password is answered to whoever resets it: a plain administrator resetting a server
      // administrator's would log in as them and manage every workspace.
      await createUser(t.app.database.db, ws, 'other-server-admin', 'other-server-admin-pw', {
        role: 'administrator',
        serverAdmin: true,
      });
      const target = await api.loggedIn('other-server-admin', 'other-server-admin-pw');
      const plain = await newUser('administrator');
      const path = `/api/v1/workspaces/${ws}/users/${target.user_id}`;
      for (const [method, suffix, body] of [
        ['POST', '/password', undefined],
        ['POST', '/mqtt-password', undefined],
        ['PATCH', '', { disabled: true }],
        ['PATCH', '', { role: 'viewer' }],
        ['DELETE', '', undefined],
      ] as const) {
        const answer = await api.request(method, `${path}${suffix}`, plain.session.access_token, body);
        assertError(
          answer,
          'RoleForbidden',
          "Only a server administrator may change a server administrator's account.",
        );
      }
      const after = await api.loggedIn('other-server-admin', 'other-server-admin-pw');
      assert.equal((await api.current(target.access_token)).body.code, 0);
      assert.equal(after.mqtt_password, target.mqtt_password);
      assert.equal(after.role, 'administrator');
      // A server administrator may.
      const reset = await api.request<{ password: string }>('POST', `${path}/password`, admin.access_token);
      assert.equal(reset.body.code, 0);
      await api.loggedIn('other-server-admin', reset.body.data.password);
      // And the plain administrator still manages the plain accounts.
      const operator = await newUser('operator');
      const operatorReset = await api.request(
        'POST',
        `/api/v1/workspaces/${ws}/users/${operator.user_id}/password`,
        plain.session.access_token,
      );
      assert.equal(operatorReset.body.code, 0);
    });

    it("a user of another workspace cannot be reached through this workspace's path", async () => {
      const elsewhere = await createWorkspace(t.app.database.db, 'Elsewhere');
      const stranger = await createUser(t.app.database.db, elsewhere, 'stranger', 'stranger-password', {
        role: 'administrator',
      });
      for (const [method, suffix, body] of [
        ['PATCH', '', { disabled: true }],
        ['DELETE', '', undefined],
        ['POST', '/password', undefined],
        ['POST', '/mqtt-password', undefined],
      ] as const) {
        const answer = await api.request(
          method,
          `/api/v1/workspaces/${ws}/users/${stranger}${suffix}`,
          admin.access_token,
          body,
        );
        assertError(answer, 'UserNotInWorkspace');
      }
      await api.loggedIn('stranger', 'stranger-password');
    });

    it('a new bind code replaces the old one: docks bind with the new one only', async () => {
      const operator = await newUser('operator');
      const dock = await connectDock(mqttUrl, 'BIND-CODE-DOCK', mqttOf(operator.session));
      try {
        const old = (
          await api.request<{ bind_code: string }>(
            'GET',
            '/manage/api/v1/workspaces/current',
            admin.access_token,
          )
        ).body.data.bind_code;
        const ask = (code: string) =>
          dock.send('requests', 'airport_organization_get', {
            device_binding_code: code,
            organization_id: ws,
          });
        assert.equal((await ask(old))?.data.result, 0);
        const regenerated = await api.request<{ bind_code: string }>(
          'POST',
          `/api/v1/workspaces/${ws}/bind-code`,
          admin.access_token,
        );
        const fresh = regenerated.body.data.bind_code;
        assert.notEqual(fresh, old);
        const current = await api.request<{ bind_code: string }>(
          'GET',
          '/manage/api/v1/workspaces/current',
          operator.session.access_token,
        );
        assert.equal(current.body.data.bind_code, fresh);
        assert.equal((await ask(old))?.data.result, ERRORS.BindingCodeUnknown.mqttResult);
        assert.equal((await ask(fresh))?.data.result, 0);
      } finally {
        await dock.close();
      }
    });

    it('logout ends the session: the same token gets 401, also at token/refresh', async () => {
      const user = await newUser('viewer');
      const other = await api.loggedIn(user.username, user.password);
      const out = await api.request('POST', '/api/v1/session/logout', user.session.access_token);
      assert.equal(out.body.code, 0);
      assertError(await api.current(user.session.access_token), 'SessionEnded');
      assertError(await api.refresh(user.session.access_token), 'SessionEnded');
      assertError(
        await api.request('POST', '/api/v1/session/logout', user.session.access_token),
        'SessionEnded',
      );
      // Only that session.
      assert.equal((await api.current(other.access_token)).body.code, 0);
    });

    it('changing your own password ends your other sessions, keeps this one; a wrong current password is refused', async () => {
      const user = await newUser('operator');
      const other = await api.loggedIn(user.username, user.password);
      const third = await api.loggedIn(user.username, user.password);
      const wrong = await api.request('POST', '/api/v1/session/password', user.session.access_token, {
        current_password: 'not-my-password',
        new_password: 'my-new-password-1',
      });
      assertError(wrong, 'WrongPassword');
      assert.equal((await api.current(other.access_token)).body.code, 0);
      const short = await api.request('POST', '/api/v1/session/password', user.session.access_token, {
        current_password: user.password,
        new_password: 'short',
      });
      assert.equal(short.status, 400);

      const changed = await api.request<{ ended_sessions: number }>(
        'POST',
        '/api/v1/session/password',
        user.session.access_token,
        { current_password: user.password, new_password: 'my-new-password-1' },
      );
      assert.deepEqual(changed.body, { code: 0, message: 'success', data: { ended_sessions: 2 } });
      assert.equal((await api.current(user.session.access_token)).body.code, 0);
      for (const token of [other.access_token, third.access_token]) {
        assertError(await api.current(token), 'SessionEnded');
      }
      assertError(await api.login(user.username, user.password), 'InvalidCredentials');
      await api.loggedIn(user.username, 'my-new-password-1');
    });

    it('viewers log in from the web only, device accounts from Pilot 2 only', async () => {
      const viewer = await newUser('viewer');
      const device = await newUser('device');
      assertError(await api.login(viewer.username, viewer.password, 2), 'ClientNotAllowed');
      assertError(await api.login(device.username, device.password, 1), 'ClientNotAllowed');
      // Only once the password is right does the answer tell anything.
      assertError(await api.login(viewer.username, 'not-the-password', 2), 'InvalidCredentials');
      // Administrators and operators use both.
      const operator = await newUser('operator');
      await api.loggedIn(operator.username, operator.password, 2);
      await api.loggedIn('admin', ADMIN_PASSWORD, 2);
    });

    describe('workspaces, as server administrators manage them', () => {
      interface WorkspaceItem {
        workspace_id: string;
        name: string;
        description: string;
        bind_code: string;
        users: number;
        devices: number;
        deleting: boolean;
        default: boolean;
      }
      const list = async () =>
        (await api.request<{ list: WorkspaceItem[] }>('GET', '/api/v1/workspaces', admin.access_token)).body
          .data.list;
      const create = async (name: string) => {
        const created = await api.request<WorkspaceItem>('POST', '/api/v1/workspaces', admin.access_token, {
          name,
        });
        assert.equal(created.body.code, 0, JSON.stringify(created.body));
        return created.body.data;
      };

      it('creates and renames a workspace; the list shows each with its counts', async () => {
        const created = await create('  Field team  ');
        assert.equal(created.name, 'Field team');
        assert.match(created.bind_code, /^[A-Z2-9]{6}$/);
        assert.deepEqual(
          {
            users: created.users,
            devices: created.devices,
            deleting: created.deleting,
            default: created.default,
          },
          { users: 0, devices: 0, deleting: false, default: false },
        );
        const renamed = await api.request<WorkspaceItem>(
          'PATCH',
          `/api/v1/workspaces/${created.workspace_id}`,
          admin.access_token,
          { name: 'Survey team', description: 'Roofs' },
        );
        assert.equal(renamed.body.data.name, 'Survey team');
        assert.equal(renamed.body.data.description, 'Roofs');
        assertError(
          await api.request('PATCH', `/api/v1/workspaces/${created.workspace_id}`, admin.access_token, {
            name: '  ',
          }),
          'BadRequest',
          'A workspace needs a name.',
        );

        // Its first user, created by the server administrator across workspaces, and a dock of theirs.
        const pilot = await newUser('operator', created.workspace_id);
        assert.equal(pilot.session.workspace_id, created.workspace_id);
        const dock = await connectDock(mqttUrl, 'COUNTED-DOCK', mqttOf(pilot.session));
        try {
          assert.equal(
            (await dock.send('status', 'update_topo', dockTopology('COUNTED-AIRCRAFT')))?.data.result,
            0,
          );
          const items = await list();
          const mine = items.find((w) => w.workspace_id === created.workspace_id);
          assert.deepEqual(
            { name: mine?.name, users: mine?.users, devices: mine?.devices },
            { name: 'Survey team', users: 1, devices: 2 },
          );
          const home = items.find((w) => w.workspace_id === ws);
          assert.equal(home?.default, true);
          assert.ok((home?.users ?? 0) > 5);
        } finally {
          await dock.close();
        }
      });

      it('only server administrators manage workspaces', async () => {
        const plain = await newUser('administrator');
        for (const [method, url, body] of [
          ['GET', '/api/v1/workspaces', undefined],
          ['POST', '/api/v1/workspaces', { name: 'Mine' }],
          ['PATCH', `/api/v1/workspaces/${ws}`, { name: 'Mine' }],
          ['DELETE', `/api/v1/workspaces/${ws}?confirm=x`, undefined],
        ] as const) {
          assertError(await api.request(method, url, plain.session.access_token, body), 'RoleForbidden');
        }
        assert.ok(!(await list()).some((w) => w.name === 'Mine'));
      });

      it('refuses to delete the default workspace, your own, or without the exact name; an unknown one is missing', async () => {
        const home = (await list()).find((w) => w.default)!;
        assertError(
          await api.request(
            'DELETE',
            `/api/v1/workspaces/${ws}?confirm=${encodeURIComponent(home.name)}`,
            admin.access_token,
          ),
          'WorkspaceProtected',
        );
        const own = await create('Own team');
        await createUser(t.app.database.db, own.workspace_id, 'own-server-admin', 'own-server-admin-pw', {
          role: 'administrator',
          serverAdmin: true,
        });
        const ownAdmin = await api.loggedIn('own-server-admin', 'own-server-admin-pw');
        assertError(
          await api.request(
            'DELETE',
            `/api/v1/workspaces/${own.workspace_id}?confirm=Own%20team`,
            ownAdmin.access_token,
          ),
          'WorkspaceProtected',
        );
        for (const confirm of ['Own', 'own team', 'Own team ']) {
          assertError(
            await api.request(
              'DELETE',
              `/api/v1/workspaces/${own.workspace_id}?confirm=${encodeURIComponent(confirm)}`,
              admin.access_token,
            ),
            'ConfirmationMismatch',
          );
        }
        assertError(
          await api.request(
            'DELETE',
            '/api/v1/workspaces/00000000-0000-0000-0000-000000000000?confirm=x',
            admin.access_token,
          ),
          'WorkspaceMissing',
        );
        const still = (await list()).find((w) => w.workspace_id === own.workspace_id);
        assert.equal(still?.deleting, false);
        assert.equal((await api.current(ownAdmin.access_token)).body.code, 0);
      });

      it('deletes a workspace with its users, devices and objects; other workspaces keep theirs', async () => {
        const doomed = await create('Doomed team');
        const id = doomed.workspace_id;
        const pilot = await newUser('operator', id);
        const viewer = await newUser('viewer', id);
        const dock = await connectDock(mqttUrl, 'DOOMED-DOCK', mqttOf(pilot.session));
        assert.equal(
          (await dock.send('status', 'update_topo', dockTopology('DOOMED-AIRCRAFT')))?.data.result,
          0,
        );
        assert.equal((await t.app.devices.find('DOOMED-DOCK'))?.workspaceId, id);
        const storage = t.app.storage;
        // More objects than one page of the purge (500), in both of the workspace's folders.
        const keys = [`${id}/logs/DOOMED-DOCK/log-1.txt`, `${id}/media/flight/DJI_0001.JPG`];
        for (let i = 0; i < 520; i++) keys.push(`${id}/media/many/${String(i).padStart(4, '0')}.jpg`);
        for (const key of keys) await storage.put(key, Buffer.from(key));
        // Beside it: the default workspace's objects, and a key that merely starts with the id.
        const kept = [`${ws}/media/kept/DJI_0001.JPG`, `${ws}/logs/kept.txt`, `${id}-not-this/x.jpg`];
        for (const key of kept) await storage.put(key, Buffer.from('keep'));

        const dockGone = closedByBroker(dock.client);
        const deleted = await api.request<WorkspaceItem>(
          'DELETE',
          `/api/v1/workspaces/${id}?confirm=Doomed%20team`,
          admin.access_token,
        );
        assert.equal(deleted.status, 202, JSON.stringify(deleted.body));
        assert.equal(deleted.body.data.deleting, true);
        // At once: nobody of that workspace gets in, and its devices are disconnected.
        assertError(await api.current(pilot.session.access_token), 'SessionEnded');
        assertError(await api.refresh(viewer.session.access_token), 'SessionEnded');
        const login = await api.login(pilot.username, pilot.password);
        assert.notEqual(login.body.code, 0);
        await dockGone;
        assert.ok((await tryMqtt(mqttUrl, mqttOf(pilot.session))).refused !== undefined);
        // Deleting it again while it goes: it is no longer there to delete.
        assertError(
          await api.request('DELETE', `/api/v1/workspaces/${id}?confirm=Doomed%20team`, admin.access_token),
          'WorkspaceMissing',
        );

        await t.app.workspaces.settled(id);
        assert.deepEqual((await storage.list(`${id}/`)).objects, []);
        for (const key of kept) assert.ok(await storage.head(key), `${key} is kept`);
        const db = t.app.database.db;
        // Upload credentials handed out before the deletion write until they expire (cloud STS ones
        // cannot be revoked): the workspace stays listed as being deleted, and its rows stay, until then.
        await storage.put(`${id}/media/late/DJI_0002.JPG`, Buffer.from('late'));
        await t.app.workspaces.finishDue();
        assert.equal((await list()).find((w) => w.workspace_id === id)?.deleting, true);
        assert.ok(await db.selectFrom('workspaces').select('id').where('id', '=', id).executeTakeFirst());
        skewMs = (t.app.config.storage.credentialTtlSeconds + 61) * 1000;
        try {
          await t.app.workspaces.finishDue();
        } finally {
          skewMs = 0;
        }
        assert.deepEqual((await storage.list(`${id}/`)).objects, [], 'the last sweep takes the late upload');
        assert.equal(
          (await list()).find((w) => w.workspace_id === id),
          undefined,
        );
        assert.equal(
          await db.selectFrom('workspaces').select('id').where('id', '=', id).executeTakeFirst(),
          undefined,
        );
        assert.deepEqual(
          await db.selectFrom('users').select('id').where('workspaceId', '=', id).execute(),
          [],
        );
        assert.deepEqual(
          await db
            .selectFrom('sessions')
            .select('id')
            .where('userId', 'in', [pilot.user_id, viewer.user_id])
            .execute(),
          [],
        );
        const device = await t.app.devices.find('DOOMED-DOCK');
        assert.equal(device?.workspaceId ?? null, null);
        assert.ok(!(await list()).some((w) => w.workspace_id === id));
        assertError(await api.login(pilot.username, pilot.password), 'InvalidCredentials');
        // The rest of the server goes on.
        assert.equal((await api.current(admin.access_token)).body.code, 0);
        await dock.close().catch(() => {});
      });
    });
  });

  describe(`a session's absolute lifetime (${dialect})`, () => {
    const clock = { t: Date.now() };
    let t: TestApp;
    let api: ReturnType<typeof apiOf>;
    before(async () => {
      t = await startTestApp({
        dialect,
        now: () => clock.t,
        env: { ...NO_LIMITS, SKYVAULT_SESSION_LIFETIME: '120', SKYVAULT_TOKEN_TTL: '60' },
      });
      api = apiOf(t);
    });
    after(() => t?.close());

    it('refreshes within the lifetime, never past its end; after it, the token and refresh get 401', async () => {
      const start = Math.floor(clock.t / 1000);
      const login = await api.loggedIn('admin', ADMIN_PASSWORD);
      assert.ok(Math.abs(login.expires_at - (start + 60)) <= 1, `${login.expires_at} vs ${start + 60}`);
      const sessionEnd = login.expires_at + 60;

      clock.t += 50_000;
      const first = await api.refresh(login.access_token);
      assert.equal(first.body.code, 0);
      assert.ok(Math.abs(first.body.data.expires_at - (start + 110)) <= 1);
      // Past the token's own expiry, inside the session: refresh still works, capped at the session's end.
      clock.t += 65_000;
      assertError(await api.current(first.body.data.access_token), 'TokenExpired');
      const second = await api.refresh(first.body.data.access_token);
      assert.equal(second.body.code, 0);
      assert.equal(second.body.data.expires_at, sessionEnd);
      clock.t += 3_000;
      assert.equal((await api.current(second.body.data.access_token)).body.code, 0);
      const third = await api.refresh(second.body.data.access_token);
      assert.equal(third.body.data.expires_at, sessionEnd);

      clock.t = sessionEnd * 1000 + 1_000;
      for (const token of [login.access_token, first.body.data.access_token, third.body.data.access_token]) {
        const current = await api.current(token);
        assert.equal(current.status, 401);
        const refreshed = await api.refresh(token);
        assert.equal(refreshed.status, 401, JSON.stringify(refreshed.body));
      }
      // Logging in again opens a new session.
      const again = await api.loggedIn('admin', ADMIN_PASSWORD);
      assert.equal((await api.current(again.access_token)).body.code, 0);
    });
  });

  describe(`a workspace deletion cut short resumes at the next start (${dialect})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ dialect, env: NO_LIMITS });
    });
    after(() => t?.close());

    it('purges a workspace left marked as being deleted when the app starts', async () => {
      const db = t.app.database.db;
      const id = await createWorkspace(db, 'Half deleted');
      const other = await createWorkspace(db, 'Untouched');
      await createUser(db, id, 'half', 'half-password', { role: 'operator' });
      const keys = [`${id}/media/a.jpg`, `${id}/logs/b.txt`];
      for (const key of keys) await t.app.storage.put(key, Buffer.from(key));
      // And one marked a moment ago: its objects go at start, its rows once its credentials expire.
      const recent = await createWorkspace(db, 'Just deleted');
      await t.app.storage.put(`${recent}/media/c.jpg`, Buffer.from('c'));
      await db.updateTable('workspaces').set({ deletingAt: Date.now() }).where('id', '=', recent).execute();
      await t.app.storage.put(`${other}/media/a.jpg`, Buffer.from('keep'));
      // As a run stopped in the middle leaves it: marked, objects and rows still there.
      await db
        .updateTable('workspaces')
        .set({ deletingAt: Date.now() - (t.app.config.storage.credentialTtlSeconds + 61) * 1000 })
        .where('id', '=', id)
        .execute();
      const api = apiOf(t);
      assertError(
        await api.login('half', 'half-password'),
        'AccountDisabled',
        'This workspace is being deleted.',
      );

      // listen() resumes the deletions (this one's credentials have long expired: it finishes); settled
      // waits for the one it started.
      await t.app.listen();
      await t.app.workspaces.settled(id);
      await t.app.workspaces.settled(recent);
      assert.deepEqual((await t.app.storage.list(`${recent}/`)).objects, []);
      assert.ok(await db.selectFrom('workspaces').select('id').where('id', '=', recent).executeTakeFirst());
      assert.equal(
        await db.selectFrom('workspaces').select('id').where('id', '=', id).executeTakeFirst(),
        undefined,
      );
      assert.deepEqual((await t.app.storage.list(`${id}/`)).objects, []);
      assert.deepEqual(await db.selectFrom('users').select('id').where('workspaceId', '=', id).execute(), []);
      assert.ok(await t.app.storage.head(`${other}/media/a.jpg`));
      assert.ok(await db.selectFrom('workspaces').select('id').where('id', '=', other).executeTakeFirst());
    });
  });
}
