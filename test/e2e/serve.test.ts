import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import mqtt from 'mqtt';
import { runCli, serveEnv as baseEnv } from '../helpers/cli.ts';
import { createFreshDatabase } from '../helpers/databases.ts';
import { tempDir } from '../helpers/test-app.ts';

/** `skyvault serve` with these settings, stopped when the test ends (passed or failed). */
function serve(t: TestContext, env: Record<string, string>) {
  const cli = runCli(['serve'], env);
  t.after(() => cli.stop('SIGKILL'));
  return cli;
}

function urlOf(stdout: string): string {
  const match = /Web and API:\s+(https?:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
  assert.ok(match, `no URL in:\n${stdout}`);
  return match[1]!;
}

async function postJson(url: string, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as { code: number; message: string; data: Record<string, string> },
  };
}

/** A stack trace line, which an operator mistake must never print. */
const STACK_LINE = /^\s+at .+\(.+:\d+:\d+\)$/m;

// Each test starts its own `skyvault` processes; they spend their time loading code, so run the tests
// side by side rather than one after another.
describe('skyvault serve', { concurrency: true }, () => {
  it('starts on embedded defaults, prints where to go and a one-time admin password, and stops on SIGTERM', async (t) => {
    const dataDir = tempDir();
    const cli = serve(t, baseEnv(dataDir));
    const stdout = await cli.waitFor('Try it:');
    const base = urlOf(stdout);
    assert.match(stdout, /Skyvault \d+\.\d+\.\d+ is ready\./);
    assert.match(stdout, new RegExp(`API reference:\\s+${base}/docs`));
    assert.match(stdout, /Database:\s+SQLite .*skyvault\.db/);
    assert.match(stdout, /bind code [A-Z2-9]{6}/);
    const password = /Admin login:\s+username "admin", password "([^"]+)"/.exec(stdout)?.[1];
    assert.ok(password, 'the generated password is printed');
    assert.match(stdout, /shown only this once/);
    assert.doesNotMatch(stdout, /Metrics:/, 'no /metrics without SKYVAULT_METRICS_TOKEN');

    const storageUrl =
      /Object storage:\s+(http:\/\/127\.0\.0\.1:\d+) \(embedded, S3 path-style, bucket "skyvault"/.exec(
        stdout,
      )?.[1];
    assert.ok(storageUrl, 'the storage endpoint is printed');
    const anonymous = await fetch(`${storageUrl}/skyvault/anything`);
    assert.equal(anonymous.status, 403);
    assert.match(await anonymous.text(), /<Code>AccessDenied<\/Code>/);
    // The store's root credentials, generated and printed once, open the bucket to an S3 client.
    const root = /Storage root:\s+access key "([^"]+)", secret key "([^"]+)"/.exec(stdout);
    assert.ok(root, 'the storage root credentials are printed');
    const s3 = new S3Client({
      endpoint: storageUrl,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: root[1]!, secretAccessKey: root[2]! },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'skyvault' }));
    assert.equal(listed.$metadata.httpStatusCode, 200);
    s3.destroy();

    const login = await postJson(`${base}/manage/api/v1/login`, { username: 'admin', password, flag: 1 });
    assert.equal(login.body.code, 0);
    const current = await fetch(`${base}/manage/api/v1/users/current`, {
      headers: { 'x-auth-token': login.body.data.access_token! },
    });
    assert.equal(((await current.json()) as { data: { username: string } }).data.username, 'admin');
    assert.equal(await cli.stop('SIGTERM'), 0);

    // Second start on the same data: no new password, the old one still works.
    const metricsToken = 'serve-test-metrics-token-0123456789';
    const again = serve(t, { ...baseEnv(dataDir), SKYVAULT_METRICS_TOKEN: metricsToken });
    const stdout2 = await again.waitFor('Try it:');
    assert.match(stdout2, new RegExp(`Metrics:\\s+${urlOf(stdout2)}/metrics \\(Prometheus`));
    const scraped = await fetch(`${urlOf(stdout2)}/metrics`, {
      headers: { authorization: `Bearer ${metricsToken}` },
    });
    assert.equal(scraped.status, 200);
    assert.match(await scraped.text(), /^skyvault_upload_bytes_total\{source="pilot"\} 0$/m);
    assert.doesNotMatch(stdout2, /password "/);
    assert.doesNotMatch(stdout2, /Storage root:/, 'printed on the first start only');
    assert.match(stdout2, /Log in with an existing account; `skyvault admin reset-password/);
    const relogin = await postJson(`${urlOf(stdout2)}/manage/api/v1/login`, {
      username: 'admin',
      password,
      flag: 2,
    });
    assert.equal(relogin.body.code, 0);
    assert.equal(await again.stop('SIGINT'), 0);
  });

  it('refuses a port that is taken with one sentence and exit code 1', async (t) => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    t.after(() => blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const cli = serve(t, { ...baseEnv(tempDir()), SKYVAULT_HTTP_PORT: String(port) });
    const storage = serve(t, { ...baseEnv(tempDir()), SKYVAULT_STORAGE_PORT: String(port) });
    assert.equal(await cli.exited(), 1);
    assert.match(
      cli.stderr(),
      new RegExp(
        `Skyvault cannot start: Port ${port} is already in use on 127\\.0\\.0\\.1: .*SKYVAULT_HTTP_PORT`,
      ),
    );
    assert.doesNotMatch(cli.stderr(), STACK_LINE);
    assert.equal(await storage.exited(), 1);
    assert.match(
      storage.stderr(),
      new RegExp(`Port ${port} is already in use on 127\\.0\\.0\\.1: .*SKYVAULT_STORAGE_PORT`),
    );
  });

  it('lists every bad setting, one sentence each, and exits 1 without a stack trace', async (t) => {
    const cli = serve(t, {
      ...baseEnv(tempDir()),
      SKYVAULT_HTTP_PORT: 'eighty',
      SKYVAULT_LOG_LEVEL: 'loud',
      SKYVAULT_STORAG: 'x',
    });
    assert.equal(await cli.exited(), 1);
    const err = cli.stderr();
    assert.match(err, /Warning: SKYVAULT_STORAG is not a Skyvault setting/);
    assert.match(err, /^- SKYVAULT_HTTP_PORT must be a port number from 0 to 65535, not "eighty"\.$/m);
    assert.match(err, /^- SKYVAULT_LOG_LEVEL must be one of /m);
    assert.doesNotMatch(err, STACK_LINE);
  });

  it('explains an unreachable PostgreSQL and exits 1', async (t) => {
    const cli = serve(t, {
      ...baseEnv(tempDir()),
      SKYVAULT_DATABASE_URL: 'postgres://skyvault:pw@127.0.0.1:1/skyvault',
    });
    assert.equal(await cli.exited(), 1);
    assert.match(
      cli.stderr(),
      /PostgreSQL at postgres:\/\/skyvault:\*\*\*@127\.0\.0\.1:1\/skyvault cannot be reached \(connection refused\)/,
    );
    assert.doesNotMatch(cli.stderr(), STACK_LINE);
  });

  it('rejects unknown commands and shows help', async () => {
    const cli = runCli(['frobnicate'], {});
    const help = runCli(['help'], {});
    assert.equal(await cli.exited(), 2);
    assert.match(cli.stderr(), /Unknown command "frobnicate"/);
    assert.equal(await help.exited(), 0);
    assert.match(help.stdout(), /serve \[--config FILE\]/);
  });

  it('serves HTTPS directly with SKYVAULT_TLS_CERT and SKYVAULT_TLS_KEY', async (t) => {
    const dir = tempDir();
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    const ca = readFileSync(cert, 'utf8');
    const brokenKey = path.join(dir, 'broken-key.pem');
    writeFileSync(brokenKey, 'not a key');
    const cli = serve(t, {
      ...baseEnv(tempDir()),
      SKYVAULT_TLS_CERT: cert,
      SKYVAULT_TLS_KEY: key,
      SKYVAULT_ADMIN_PASSWORD: 'tls-admin-pass',
    });
    const broken = serve(t, {
      ...baseEnv(tempDir()),
      SKYVAULT_TLS_CERT: cert,
      SKYVAULT_TLS_KEY: brokenKey,
    });

    const base = urlOf(await cli.waitFor('Try it:'));
    assert.match(base, /^https:\/\//);
    const body = await new Promise<string>((resolve, reject) => {
      const request = https.request(
        `${base}/manage/api/v1/login`,
        { method: 'POST', ca, headers: { 'content-type': 'application/json' } },
        (res) => {
          let data = '';
          res.on('data', (c) => (data += c));
          res.on('end', () => resolve(data));
        },
      );
      request.on('error', reject);
      request.end(JSON.stringify({ username: 'admin', password: 'tls-admin-pass', flag: 2 }));
    });
    const login = JSON.parse(body) as {
      code: number;
      data: { mqtt_username: string; mqtt_password: string };
    };
    assert.equal(login.code, 0);

    // MQTT over TLS, with the same certificate and the users' MQTT logins.
    const mqtts = /MQTT over TLS:\s+ssl:\/\/127\.0\.0\.1:(\d+)/.exec(cli.stdout());
    assert.ok(mqtts, cli.stdout());
    const options = { ca, protocolVersion: 5 as const, reconnectPeriod: 0 };
    const client = await mqtt.connectAsync(
      `mqtts://127.0.0.1:${mqtts[1]}`,
      { ...options, username: login.data.mqtt_username, password: login.data.mqtt_password },
      false,
    );
    assert.ok(client.connected);
    await client.endAsync();
    await assert.rejects(
      mqtt.connectAsync(`mqtts://127.0.0.1:${mqtts[1]}`, { ...options, username: 'x', password: 'y' }, false),
      /bad user ?name or password|not authorized/i,
    );
    assert.equal(await cli.stop(), 0);

    // A key that is not one: one sentence, exit code 1.
    assert.equal(await broken.exited(), 1);
    assert.match(broken.stderr(), /are not a usable PEM certificate and matching private key/);
    assert.doesNotMatch(broken.stderr(), STACK_LINE);
  });

  it(
    'runs on PostgreSQL with SKYVAULT_DATABASE_URL',
    {
      skip: !process.env.SKYVAULT_TEST_DATABASE_URL && 'SKYVAULT_TEST_DATABASE_URL not set',
    },
    async (t) => {
      const fresh = await createFreshDatabase('postgres');
      const cli = runCli(['serve'], {
        ...baseEnv(tempDir()),
        SKYVAULT_DATABASE_URL: fresh.url!,
        SKYVAULT_ADMIN_PASSWORD: 'pg-admin-pass',
      });
      // Whatever happens below: the server goes, then its database.
      t.after(async () => {
        await cli.stop('SIGKILL');
        await fresh.drop();
      });
      const stdout = await cli.waitFor('Try it:');
      assert.match(stdout, /Database:\s+PostgreSQL postgres:\/\//);
      const health = await fetch(`${urlOf(stdout)}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok', database: 'postgres', storage: 'embedded' });
      const login = await postJson(`${urlOf(stdout)}/manage/api/v1/login`, {
        username: 'admin',
        password: 'pg-admin-pass',
        flag: 1,
      });
      assert.equal(login.body.code, 0);
      assert.equal(await cli.stop(), 0);
    },
  );
});
