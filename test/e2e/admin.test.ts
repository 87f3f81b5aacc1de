/**
 * First start never locks anyone out (issue 13): a start that fails creates no admin whose password
 * nobody saw, and `skyvault admin reset-password` / `create-user` repair accounts from the command line.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { runCli, serveEnv } from '../helpers/cli.ts';
import { tempDir } from '../helpers/test-app.ts';

function serve(t: TestContext, env: Record<string, string>) {
  const cli = runCli(['serve'], env);
  t.after(() => cli.stop('SIGKILL'));
  return cli;
}

async function login(base: string, username: string, password: string, flag = 1) {
  const response = await fetch(`${base}/manage/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, flag }),
  });
  return ((await response.json()) as { code: number }).code;
}

const urlOf = (stdout: string) => /Web and API:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;

describe('skyvault admin, and a first start that fails', () => {
  it('creates the admin only once the server is up, so a failed first start loses no password', async (t) => {
    const dataDir = tempDir();
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    t.after(() => blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const failed = serve(t, { ...serveEnv(dataDir), SKYVAULT_HTTP_PORT: String(port) });
    assert.equal(await failed.exited(), 1);
    assert.doesNotMatch(failed.stdout(), /password/);

    // The next start, on a free port, creates the admin and shows its password.
    const started = serve(t, serveEnv(dataDir));
    const stdout = await started.waitFor('Try it:');
    const password = /Admin login:\s+username "admin", password "([^"]+)"/.exec(stdout)?.[1];
    assert.ok(password, `the generated password is printed:\n${stdout}`);
    assert.equal(await login(urlOf(stdout), 'admin', password), 0);
    assert.equal(await started.stop('SIGTERM'), 0);
  });

  it('resets a forgotten password and creates users, printing each password once', async (t) => {
    const dataDir = tempDir();
    const env = serveEnv(dataDir);
    const first = serve(t, env);
    const firstOut = await first.waitFor('Try it:');
    const old = /password "([^"]+)"/.exec(firstOut)![1]!;
    assert.equal(await first.stop('SIGTERM'), 0);

    // Each command loads the code anew (seconds on a busy machine): the independent ones run side by side.
    const reset = runCli(['admin', 'reset-password'], env);
    const created = runCli(['admin', 'create-user', '--username', 'pilot7', '--role', 'device'], env);
    const nobody = runCli(['admin', 'reset-password', '--username', 'nobody'], env);
    const bad = runCli(['admin', 'rename'], env);
    const boss = runCli(['admin', 'create-user', '--username', 'boss', '--server-admin'], env);
    assert.equal(await reset.exited(), 0, reset.stderr());
    const fresh = /New password for "admin": (\S+)/.exec(reset.stdout())?.[1];
    assert.ok(fresh, reset.stdout());
    assert.equal(await created.exited(), 0, created.stderr());
    const pilotPassword = /Password: (\S+)/.exec(created.stdout())?.[1];
    assert.ok(pilotPassword, created.stdout());
    assert.equal(await nobody.exited(), 1);
    assert.match(nobody.stderr(), /There is no user "nobody"/);
    assert.equal(await bad.exited(), 2);
    assert.equal(await boss.exited(), 0, boss.stderr());
    assert.match(boss.stdout(), /Created the server administrator "boss"/);
    const bossPassword = /Password: (\S+)/.exec(boss.stdout())?.[1];
    const twice = runCli(['admin', 'create-user', '--username', 'pilot7'], env);
    assert.equal(await twice.exited(), 1);
    assert.match(twice.stderr(), /"pilot7" exists already/);

    const again = serve(t, env);
    const base = urlOf(await again.waitFor('Try it:'));
    assert.notEqual(await login(base, 'admin', old), 0, 'the old password no longer works');
    assert.equal(await login(base, 'admin', fresh), 0);
    assert.equal(await login(base, 'pilot7', pilotPassword, 2), 0, 'a device account logs in from Pilot 2');
    assert.equal(await login(base, 'pilot7', pilotPassword, 1), 403, 'but not into the web app');
    const bossLogin = await fetch(`${base}/manage/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'boss', password: bossPassword, flag: 1 }),
    }).then((r) => r.json() as Promise<{ data: { role: string; server_admin: boolean } }>);
    assert.deepEqual([bossLogin.data.role, bossLogin.data.server_admin], ['administrator', true]);
    assert.equal(await again.stop('SIGTERM'), 0);
  });
});
