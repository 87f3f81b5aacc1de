import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_PASSWORD, startTestApp, type TestApp } from '../helpers/test-app.ts';

describe('HTTP input handling', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { SKYVAULT_HTTP_BODY_LIMIT: '2048' } });
  });
  after(() => t.close());

  const login = (payload: string, contentType = 'application/json') =>
    t.inject({
      method: 'POST',
      url: '/manage/api/v1/login',
      headers: { 'content-type': contentType },
      payload,
    });
  const userCount = async () =>
    Number(
      (
        await t.app.database.db
          .selectFrom('users')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('answers malformed JSON with a clear 400 envelope', async () => {
    const response = await login('{"username": "admin",');
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json(), { code: 400, message: 'The request body is not valid JSON.' });
  });

  it('names the offending field when types are wrong or fields are missing', async () => {
    const wrongType = await login(
      JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD, flag: 'web' }),
    );
    assert.equal(wrongType.statusCode, 400);
    assert.equal(wrongType.json().code, 400);
    assert.match(wrongType.json().message, /body\/flag must be integer/);
    const missing = await login(JSON.stringify({ username: 'admin', flag: 1 }));
    assert.match(missing.json().message, /must have required property 'password'/);
    const notObject = await login('[1,2]');
    assert.equal(notObject.statusCode, 400);
    const badFlag = await login(JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD, flag: 3 }));
    assert.match(badFlag.json().message, /body\/flag must be <= 2/);
  });

  it('refuses an oversized body with 413 and changes nothing', async () => {
    const before = await userCount();
    const response = await login(JSON.stringify({ username: 'admin', password: 'x'.repeat(4096), flag: 1 }));
    assert.equal(response.statusCode, 413);
    assert.equal(response.json().code, 413);
    assert.equal(await userCount(), before);
  });

  it('refuses a body that is not JSON with 415', async () => {
    const response = await login('username=admin', 'application/x-www-form-urlencoded');
    assert.equal(response.statusCode, 415);
    assert.equal(response.json().code, 415);
  });

  it('treats an empty JSON body as no body', async () => {
    const token = (await t.login()).access_token;
    const response = await t.inject({
      method: 'POST',
      url: '/manage/api/v1/token/refresh',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      payload: '',
    });
    assert.equal(response.json().code, 0);
    const emptyLogin = await login('');
    assert.equal(emptyLogin.statusCode, 400);
    assert.match(emptyLogin.json().message, /body must be object/);
  });

  it('tolerates repeated slashes and a trailing slash in paths', async () => {
    const token = (await t.login()).access_token;
    for (const url of [
      '//manage/api/v1/users/current',
      '/manage//api/v1/users/current/',
      '///manage/api/v1//users//current',
    ]) {
      const response = await t.inject({ method: 'GET', url, headers: { 'x-auth-token': token } });
      assert.equal(response.json().code, 0, url);
    }
    const viaDoubleSlash = await t.inject({
      method: 'POST',
      url: '//manage/api/v1/login',
      payload: { username: 'admin', password: ADMIN_PASSWORD, flag: 2 },
    });
    assert.equal(viaDoubleSlash.json().code, 0);
  });

  it('answers unknown paths with a 404 envelope, without asking for a token', async () => {
    const response = await t.inject({ method: 'GET', url: '/media/api/v1/nothing-here' });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().code, 404);
  });

  it('answers CORS preflights for the x-auth-token header', async () => {
    const response = await t.inject({
      method: 'OPTIONS',
      url: '/manage/api/v1/users/current',
      headers: {
        origin: 'http://localhost:8080',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'x-auth-token',
      },
    });
    assert.equal(response.statusCode, 204);
    assert.match(String(response.headers['access-control-allow-headers']), /x-auth-token/);
  });

  it('serves the OpenAPI description at /docs/json and the explorer at /docs', async () => {
    const spec = (await t.inject({ method: 'GET', url: '/docs/json' })).json();
    assert.match(spec.openapi, /^3\./);
    for (const path of [
      '/manage/api/v1/login',
      '/manage/api/v1/token/refresh',
      '/manage/api/v1/users/current',
      '/manage/api/v1/workspaces/current',
      '/manage/api/v1/users/{workspace_id}/users',
      '/healthz',
    ]) {
      assert.ok(spec.paths[path], `${path} is described`);
    }
    assert.deepEqual(spec.paths['/manage/api/v1/users/current'].get.security, [{ token: [] }]);
    assert.ok(
      spec.paths['/manage/api/v1/login'].post.requestBody.content['application/json'].schema.properties.flag,
    );
    const ui = await t.inject({ method: 'GET', url: '/docs/' });
    assert.equal(ui.statusCode, 200);
    assert.match(ui.headers['content-type'] as string, /text\/html/);
  });

  it('reports health with the database dialect', async () => {
    const ok = await t.inject({ method: 'GET', url: '/healthz' });
    assert.deepEqual(ok.json(), { status: 'ok', database: 'sqlite', storage: 'embedded' });
  });
});

describe('health without a database', () => {
  it('answers 503 once the database is gone', async () => {
    const t = await startTestApp();
    try {
      await t.app.database.close();
      const response = await t.inject({ method: 'GET', url: '/healthz' });
      assert.equal(response.statusCode, 503);
      assert.equal(response.json().status, 'unavailable');
    } finally {
      await t.close();
    }
  });
});
