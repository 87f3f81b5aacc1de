import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMIN_PASSWORD, startTestApp } from '../helpers/test-app.ts';

const loginWith = async (env: Record<string, string>, headers: Record<string, string>) => {
  const t = await startTestApp({ env });
  try {
    const response = await t.inject({
      method: 'POST',
      url: '/manage/api/v1/login',
      headers,
      payload: { username: 'admin', password: ADMIN_PASSWORD, flag: 2 },
    });
    return response.json().data.mqtt_addr as string;
  } finally {
    await t.close();
  }
};

describe('addresses told to devices', () => {
  const forwarded = {
    host: '127.0.0.1:8080',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'vault.example.com',
  };

  it('follow X-Forwarded-Host from a trusted (loopback) proxy by default', async () => {
    assert.equal(await loginWith({ SKYVAULT_MQTT_PORT: '1883' }, forwarded), 'tcp://vault.example.com:1883');
  });

  it('ignore X-Forwarded-* when proxies are not trusted', async () => {
    assert.equal(
      await loginWith({ SKYVAULT_MQTT_PORT: '1883', SKYVAULT_TRUST_PROXY: 'false' }, forwarded),
      'tcp://127.0.0.1:1883',
    );
  });

  it('use the configured public URLs when set', async () => {
    assert.equal(
      await loginWith(
        { SKYVAULT_PUBLIC_URL: 'https://drones.example.org', SKYVAULT_MQTT_PORT: '8883' },
        forwarded,
      ),
      'tcp://drones.example.org:8883',
    );
    assert.equal(
      await loginWith({ SKYVAULT_MQTT_PUBLIC_URL: 'wss://mqtt.example.org/mqtt' }, forwarded),
      'wss://mqtt.example.org/mqtt',
    );
  });
});
