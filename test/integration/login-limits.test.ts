/**
 * Login rate limits as DJI Pilot 2 and browsers meet them at POST /manage/api/v1/login: HTTP 429 with
 * Retry-After in the DJI envelope, per account and per address, a failed login costing ten successful
 * ones, and a real user let in once Retry-After has passed (docs/configuration.md, "Logins").
 * The app's clock is the test's: waiting is moving it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser } from '../helpers/factories.ts';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../helpers/test-app.ts';

const clock = { t: Date.now() };

const loginFrom = (
  t: TestApp,
  address: string,
  username: string,
  password: string,
  remoteAddress = '127.0.0.1',
) =>
  t.inject({
    method: 'POST',
    url: '/manage/api/v1/login',
    remoteAddress,
    headers: { 'x-forwarded-for': address },
    payload: { username, password, flag: 2 },
  });

/** The answer of a refused login: its Retry-After, checked to be the same in the header and the body. */
function refusal(response: Awaited<ReturnType<TestApp['inject']>>, kind: 'limit' | 'busy'): number {
  assert.equal(response.statusCode, 429, response.body);
  const body = response.json();
  assert.equal(body.code, 429);
  assert.match(body.message, kind === 'limit' ? /Too many login attempts/ : /Too many passwords/);
  const seconds = Number(response.headers['retry-after']);
  assert.ok(Number.isInteger(seconds) && seconds >= 1, `Retry-After: ${response.headers['retry-after']}`);
  assert.equal(body.data.retry_after, seconds);
  return seconds;
}

describe('login limits (defaults: 10 failures a minute per account, 30 per address)', () => {
  let t: TestApp;
  let workspace: string;
  before(async () => {
    t = await startTestApp({ now: () => clock.t });
    workspace = t.app.bootstrap.defaultWorkspaceId;
  });
  after(() => t.close());

  it('holds an account after 10 failures, and lets its user in once Retry-After has passed', async () => {
    await createUser(t.app.database.db, workspace, 'pilot-a', 'right-a');
    for (let i = 0; i < 10; i++) {
      const response = await loginFrom(t, `192.0.2.${i + 1}`, 'pilot-a', `wrong-${i}`);
      assert.equal(response.statusCode, 200);
      assert.equal(response.json().code, 401);
    }
    // The 11th attempt, even with the right password and from yet another address, waits.
    const seconds = refusal(await loginFrom(t, '192.0.2.50', 'pilot-a', 'right-a'), 'limit');
    assert.ok(seconds <= 6, `one token refills in 6 s; Retry-After was ${seconds}`);
    assert.match((await loginFrom(t, '192.0.2.50', 'PILOT-A', 'right-a')).json().message, /Too many/);
    clock.t += seconds * 1000;
    assert.equal((await loginFrom(t, '192.0.2.50', 'pilot-a', 'right-a')).json().code, 0);
  });

  it("does not hold an address the account logged in from before by the account's limit", async () => {
    await createUser(t.app.database.db, workspace, 'pilot-b', 'right-b');
    assert.equal((await loginFrom(t, '198.51.100.7', 'pilot-b', 'right-b')).json().code, 0);
    // The success took a tenth of a token: 9 failures are left.
    for (let i = 0; i < 9; i++) {
      assert.equal((await loginFrom(t, `192.0.2.${100 + i}`, 'pilot-b', 'guess')).json().code, 401);
    }
    refusal(await loginFrom(t, '192.0.2.119', 'pilot-b', 'guess'), 'limit');
    refusal(await loginFrom(t, '192.0.2.120', 'pilot-b', 'right-b'), 'limit');
    assert.equal((await loginFrom(t, '198.51.100.7', 'pilot-b', 'right-b')).json().code, 0);
  });

  it('holds an address after 30 failures whatever the usernames, then lets a real user in', async () => {
    for (let i = 0; i < 30; i++) {
      assert.equal((await loginFrom(t, '203.0.113.5', `nobody-${i}`, 'guess')).json().code, 401);
    }
    const seconds = refusal(await loginFrom(t, '203.0.113.5', 'admin', ADMIN_PASSWORD), 'limit');
    assert.ok(seconds <= 2, `one token refills in 2 s; Retry-After was ${seconds}`);
    assert.equal(
      (await loginFrom(t, '203.0.113.6', 'admin', ADMIN_PASSWORD)).json().code,
      0,
      'another address',
    );
    clock.t += seconds * 1000;
    assert.equal((await loginFrom(t, '203.0.113.5', 'admin', ADMIN_PASSWORD)).json().code, 0);
  });

  it("counts wrong current passwords at a password change like failed logins (a stolen token can't guess)", async () => {
    await createUser(t.app.database.db, workspace, 'pilot-pw', 'right-pw-0123');
    const session = (await loginFrom(t, '198.18.7.1', 'pilot-pw', 'right-pw-0123')).json().data;
    const change = (current: string) =>
      t.inject({
        method: 'POST',
        url: '/api/v1/session/password',
        remoteAddress: '127.0.0.1',
        headers: { 'x-forwarded-for': '198.18.7.2', 'x-auth-token': session.access_token },
        payload: { current_password: current, new_password: 'new-password-0123' },
      });
    // The login took a tenth of the account's tokens: 9 wrong guesses are left.
    for (let i = 0; i < 9; i++) {
      const response = await change(`guess-${i}`);
      assert.equal(response.statusCode, 200, `${i}: ${response.body}`);
      assert.equal(response.json().message, 'The current password is not correct.');
    }
    refusal(await change('right-pw-0123'), 'limit');
    clock.t += 61_000;
    assert.equal(
      (await change('right-pw-0123')).json().code,
      0,
      'its user gets through once the minute is over',
    );
  });

  it('counts a successful login as a tenth of a failed one', async () => {
    await createUser(t.app.database.db, workspace, 'pilot-c', 'right-c');
    for (let i = 0; i < 50; i++) {
      assert.equal((await loginFrom(t, '203.0.113.9', 'pilot-c', 'right-c')).json().code, 0);
    }
    // 50 successes took 5 of the address's 30: 25 failures are left, not one more.
    for (let i = 0; i < 25; i++) {
      assert.equal(
        (await loginFrom(t, '203.0.113.9', `nobody-c${i}`, 'guess')).json().code,
        401,
        `failure ${i}`,
      );
    }
    refusal(await loginFrom(t, '203.0.113.9', 'nobody-c', 'guess'), 'limit');
  });

  it('counts an untrusted peer by its own address, whatever X-Forwarded-For says', async () => {
    for (let i = 0; i < 30; i++) {
      const response = await loginFrom(t, `10.9.${i}.1`, `nobody-d${i}`, 'guess', '203.0.113.77');
      assert.equal(response.json().code, 401);
    }
    refusal(await loginFrom(t, '10.9.99.1', 'nobody-d', 'guess', '203.0.113.77'), 'limit');
  });
});

describe('the password hash queue', () => {
  it('refuses at once, with Retry-After, the logins it has no room for', async () => {
    const t = await startTestApp({
      env: {
        SKYVAULT_PASSWORD_HASH_COST: '15', // slow enough that all the logins arrive while one is hashed
        SKYVAULT_PASSWORD_HASH_CONCURRENCY: '1',
        SKYVAULT_PASSWORD_HASH_QUEUE: '1',
      },
    });
    try {
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          loginFrom(t, `192.0.2.${200 + i}`, `nobody-${i}`, 'guess').then((response) => ({
            address: `192.0.2.${200 + i}`,
            response,
            ms: performance.now() - started,
          })),
        ),
      );
      const busy = answers.filter(({ response }) => response.statusCode === 429);
      const checked = answers.filter(({ response }) => response.statusCode === 200);
      assert.ok(busy.length >= 1, `statuses ${answers.map(({ response }) => response.statusCode).join(' ')}`);
      assert.equal(busy.length + checked.length, 6);
      for (const { response } of busy) refusal(response, 'busy');
      for (const { response } of checked) assert.equal(response.json().code, 401);
      // Refused without waiting for the hashes before them.
      assert.ok(
        Math.max(...busy.map(({ ms }) => ms)) < Math.min(...checked.map(({ ms }) => ms)),
        `busy after ${busy.map(({ ms }) => ms.toFixed(0)).join(', ')} ms, checked after ${checked.map(({ ms }) => ms.toFixed(0)).join(', ')} ms`,
      );
      // A refusal for lack of room costs the address nothing: the next login from it is checked.
      const retried = await loginFrom(t, busy[0]!.address, 'admin', ADMIN_PASSWORD);
      assert.equal(retried.json().code, 0);
    } finally {
      await t.close();
    }
  });
});
