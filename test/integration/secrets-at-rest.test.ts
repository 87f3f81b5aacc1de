/**
 * Device MQTT passwords at rest (issue 13, hole 5): sealed in the database with the secret key kept
 * outside it, in clear only where they are handed out (login, users/current) and checked (MQTT CONNECT).
 * Rows stored in clear by an earlier version are sealed at the next start; another key is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { buildApp } from '../../src/app.ts';
import { testDialects } from '../helpers/databases.ts';
import { createUser } from '../helpers/factories.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

for (const dialect of testDialects()) {
  describe(`device MQTT passwords at rest (${dialect})`, () => {
    let t: TestApp;
    let token: string;
    let ws: string;
    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({ dialect }));
    });
    after(() => t.close());

    const storedPassword = async (username: string, app = t.app) =>
      (
        await app.database.db
          .selectFrom('users')
          .select('mqttPassword')
          .where('username', '=', username)
          .executeTakeFirstOrThrow()
      ).mqttPassword;

    it('keeps them sealed in the database, hands them out in clear, and lets devices log in with them', async () => {
      const current = await t.inject({
        method: 'GET',
        url: '/manage/api/v1/users/current',
        headers: { 'x-auth-token': token },
      });
      const { mqtt_username: username, mqtt_password: password } = current.json().data as {
        mqtt_username: string;
        mqtt_password: string;
      };
      assert.ok(password && password.length >= 16);
      const stored = await storedPassword('admin');
      assert.match(stored, /^v1:/);
      assert.ok(!stored.includes(password), 'the database does not hold the password');
      const client = await mqtt.connectAsync(
        `mqtt://127.0.0.1:${t.app.broker!.port}`,
        { username, password, clientId: `secrets-${Date.now()}`, reconnectPeriod: 0 },
        false,
      );
      await client.endAsync();
    });

    it('seals passwords an earlier version stored in clear at the next start, and refuses another key', async () => {
      await createUser(t.app.database.db, ws, 'legacy', 'legacy-password', { userType: 2 });
      assert.equal(await storedPassword('legacy'), 'mqtt-pass-legacy', 'written in clear, as before');
      const config = t.app.config;
      await t.app.close();
      const again = await buildApp(config, { logger: t.app.logger });
      try {
        assert.match(await storedPassword('legacy', again), /^v1:/);
        assert.equal((await again.repos.users.findByUsername('legacy'))?.mqttPassword, 'mqtt-pass-legacy');
      } finally {
        await again.close();
      }
      const otherKey = { ...config, auth: { ...config.auth, secretKey: 'another-key-'.repeat(4) } };
      await assert.rejects(buildApp(otherKey, { logger: t.app.logger }), /secret key .* is not the one/);
    });
  });
}
