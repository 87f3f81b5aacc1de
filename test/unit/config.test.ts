import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { tempDir } from '../helpers/test-app.ts';

const cwd = '/srv/skyvault';

function problemsOf(env: Record<string, string>, configFile?: string): string[] {
  try {
    loadConfig({ env, cwd, configFile });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error.problems;
  }
  assert.fail('expected the configuration to be refused');
}

describe('loadConfig', () => {
  it('gives working defaults with an empty environment', () => {
    const { config, warnings } = loadConfig({ env: {}, cwd });
    assert.equal(config.http.port, 8080);
    assert.equal(config.http.host, '0.0.0.0');
    assert.equal(config.dataDir, '/srv/skyvault/data');
    assert.deepEqual(config.database, { kind: 'sqlite', file: '/srv/skyvault/data/skyvault.db' });
    assert.equal(config.mqtt.port, 1883);
    assert.equal(config.admin.username, 'admin');
    assert.equal(config.admin.password, undefined);
    assert.equal(config.auth.tokenTtlSeconds, 86400);
    assert.equal(config.http.tls, undefined);
    assert.deepEqual(warnings, []);
    assert.ok(Object.isFrozen(config.http), 'config is frozen');
  });

  it('builds the whole default configuration, nested and deeply frozen', () => {
    const { config } = loadConfig({ env: {}, cwd });
    assert.deepEqual(config, {
      http: {
        host: '0.0.0.0',
        port: 8080,
        publicUrl: undefined,
        trustProxy: 'loopback,linklocal,uniquelocal',
        bodyLimitBytes: 1048576,
        tls: undefined,
      },
      dataDir: '/srv/skyvault/data',
      database: { kind: 'sqlite', file: '/srv/skyvault/data/skyvault.db' },
      storage: {
        kind: 'local',
        port: 9000,
        bucket: 'skyvault',
        region: 'us-east-1',
        publicEndpoint: undefined,
        root: '/srv/skyvault/data/objects',
        credentialTtlSeconds: 3600,
        rootCredentials: undefined,
        cloud: undefined,
      },
      mqtt: {
        port: 1883,
        tlsPort: 8883,
        publicUrl: undefined,
        replyTimeoutMs: 3000,
        retries: 2,
        hookSecret: undefined,
        external: undefined,
      },
      dji: {
        appId: undefined,
        appKey: undefined,
        appLicense: undefined,
        ntpServerHost: 'pool.ntp.org',
        ntpServerPort: 123,
      },
      auth: {
        jwtSecret: undefined,
        secretKey: undefined,
        tokenTtlSeconds: 86400,
        refreshWindowSeconds: 604800,
        sessionLifetimeSeconds: 2592000,
        passwordHashCost: 15,
        passwordHashConcurrency: 2,
        passwordHashQueue: 16,
        loginLimitPerAccount: 10,
        loginLimitPerAddress: 30,
      },
      admin: { username: 'admin', password: undefined },
      log: { level: 'info' },
      web: { mapTiles: undefined },
      media: { ffmpegPath: undefined },
      logs: { uploadTimeoutSeconds: 900 },
      metrics: { token: undefined },
    });
    for (const section of [config.storage, config.mqtt, config.dji, config.auth, config.log, config.web]) {
      assert.ok(Object.isFrozen(section));
    }
  });

  it('reads every kind of value from the environment', () => {
    const { config } = loadConfig({
      cwd,
      env: {
        SKYVAULT_HTTP_PORT: '0',
        SKYVAULT_DATA_DIR: '/var/lib/skyvault',
        SKYVAULT_DATABASE_URL: 'postgres://sky:pw@db.example:5432/skyvault',
        SKYVAULT_PUBLIC_URL: 'https://vault.example.com/',
        SKYVAULT_TOKEN_TTL: '600',
        SKYVAULT_TRUST_PROXY: 'false',
        SKYVAULT_LOG_LEVEL: 'DEBUG',
      },
    });
    assert.equal(config.http.port, 0);
    assert.equal(config.dataDir, '/var/lib/skyvault');
    assert.deepEqual(config.database, {
      kind: 'postgres',
      url: 'postgres://sky:pw@db.example:5432/skyvault',
    });
    assert.equal(config.http.publicUrl, 'https://vault.example.com');
    assert.equal(config.auth.tokenTtlSeconds, 600);
    assert.equal(config.http.trustProxy, false);
    assert.equal(config.log.level, 'debug');
  });

  it('never echoes a database password, in any message about the URL', () => {
    for (const url of ['mysql://u:secretpw@db.example/x', 'postgres://u:secretpw@@[bad host/x']) {
      const problems = problemsOf({ SKYVAULT_DATABASE_URL: url });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.doesNotMatch(problems[0]!, /secretpw/);
      assert.match(problems[0]!, /u:\*\*\*@/);
    }
  });

  it('reports every bad value at once, one sentence each, naming the variable and the value', () => {
    const problems = problemsOf({
      SKYVAULT_HTTP_PORT: '80a',
      SKYVAULT_MQTT_PORT: '70000',
      SKYVAULT_DATABASE_URL: 'mysql://localhost/x',
      SKYVAULT_TOKEN_TTL: '-5',
      SKYVAULT_LOG_LEVEL: 'loud',
      SKYVAULT_JWT_SECRET: 'short',
      SKYVAULT_PUBLIC_URL: 'not a url',
      SKYVAULT_ADMIN_USERNAME: 'bad name!',
      SKYVAULT_TRUST_PROXY: 'everyone',
    });
    assert.equal(problems.length, 9, problems.join('\n'));
    assert.match(problems[0]!, /^SKYVAULT_HTTP_PORT must be a port number from 0 to 65535, not "80a"\.$/);
    assert.ok(problems.some((p) => /^SKYVAULT_MQTT_PORT .*70000/.test(p)));
    assert.ok(problems.some((p) => /^SKYVAULT_DATABASE_URL must start with postgres:\/\//.test(p)));
    assert.ok(problems.some((p) => /^SKYVAULT_TOKEN_TTL must be a whole number of seconds/.test(p)));
    assert.ok(problems.some((p) => /^SKYVAULT_LOG_LEVEL must be one of fatal, error/.test(p)));
    assert.ok(problems.some((p) => /^SKYVAULT_JWT_SECRET must be at least 32 characters/.test(p)));
    assert.ok(problems.every((p) => p.endsWith('.')));
  });

  it('takes an external broker and its credentials together, and only with SKYVAULT_MQTT_URL', () => {
    const credentials = { SKYVAULT_MQTT_USERNAME: 'sky', SKYVAULT_MQTT_PASSWORD: 'pw' };
    assert.equal(loadConfig({ cwd, env: credentials }).config.mqtt.external, undefined);
    const { config } = loadConfig({
      cwd,
      env: { ...credentials, SKYVAULT_MQTT_URL: 'mqtts://broker:8883', SKYVAULT_MQTT_SHARED_GROUP: 'off' },
    });
    assert.deepEqual(config.mqtt.external, {
      url: 'mqtts://broker:8883',
      username: 'sky',
      password: 'pw',
      sharedGroup: undefined,
    });
  });

  it('reads the password hash cost: 15 by default, 10 to 20 accepted', () => {
    assert.equal(loadConfig({ cwd, env: {} }).config.auth.passwordHashCost, 15);
    for (const cost of [10, 12, 20]) {
      const env = { SKYVAULT_PASSWORD_HASH_COST: String(cost) };
      assert.equal(loadConfig({ cwd, env }).config.auth.passwordHashCost, cost);
    }
  });

  it('refuses a password hash cost outside 10 to 20, in one sentence', () => {
    for (const raw of ['9', '21', '1024', '15.5', 'high', '-12']) {
      assert.deepEqual(problemsOf({ SKYVAULT_PASSWORD_HASH_COST: raw }), [
        `SKYVAULT_PASSWORD_HASH_COST must be a whole number from 10 to 20, not "${raw}".`,
      ]);
    }
  });

  it('never echoes a secret value in a problem', () => {
    const problems = problemsOf({ SKYVAULT_JWT_SECRET: 'tiny-secret-value' });
    assert.ok(!problems.join().includes('tiny-secret-value'));
  });

  it('requires TLS certificate and key together, and readable', () => {
    assert.match(problemsOf({ SKYVAULT_TLS_CERT: '/etc/cert.pem' })[0]!, /must be set together/);
    const problems = problemsOf({
      SKYVAULT_TLS_CERT: '/nonexistent/cert.pem',
      SKYVAULT_TLS_KEY: '/nonexistent/key.pem',
    });
    assert.equal(problems.length, 2);
    assert.match(
      problems[0]!,
      /SKYVAULT_TLS_CERT names \/nonexistent\/cert.pem, which cannot be read: no such file/,
    );
  });

  it('takes a JSON config file, which the environment overrides', () => {
    const dir = tempDir();
    const file = path.join(dir, 'skyvault.json');
    writeFileSync(
      file,
      JSON.stringify({ SKYVAULT_HTTP_PORT: 9999, SKYVAULT_MQTT_PORT: '2883', SKYVAULT_DATA_DIR: 'd' }),
    );
    const { config } = loadConfig({ cwd: dir, env: { SKYVAULT_CONFIG: file, SKYVAULT_HTTP_PORT: '7000' } });
    assert.equal(config.http.port, 7000);
    assert.equal(config.mqtt.port, 2883);
    assert.equal(config.dataDir, path.join(dir, 'd'));
  });

  it('refuses a config file that is missing, not JSON, or names unknown settings', () => {
    const dir = tempDir();
    assert.match(problemsOf({}, path.join(dir, 'none.json'))[0]!, /cannot be read: it does not exist/);
    writeFileSync(path.join(dir, 'bad.json'), '{ nope');
    assert.match(problemsOf({}, path.join(dir, 'bad.json'))[0]!, /is not valid JSON/);
    writeFileSync(path.join(dir, 'typo.json'), JSON.stringify({ SKYVAULT_HTTP_PROT: 1 }));
    assert.match(problemsOf({}, path.join(dir, 'typo.json'))[0]!, /did you mean SKYVAULT_HTTP_PORT\?/);
  });

  it('warns about unknown SKYVAULT_ variables with a suggestion, but starts', () => {
    const { warnings } = loadConfig({
      cwd,
      env: { SKYVAULT_DATA_DIRR: 'x', SKYVAULT_TEST_DATABASE_URL: 'x' },
    });
    assert.deepEqual(warnings, [
      'SKYVAULT_DATA_DIRR is not a Skyvault setting and is ignored (did you mean SKYVAULT_DATA_DIR?).',
    ]);
  });
});
