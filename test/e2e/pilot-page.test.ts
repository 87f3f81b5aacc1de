/**
 * The Pilot 2 H5 page (`GET /pilot`, docs/pilot.md) in a real Chromium: the JSBridge calls it makes, in
 * the order of docs/protocol.md §8, with a recording stand-in for `window.djiBridge`; the missing-licence
 * and no-bridge pages; the Chinese page; and `GET /api/v1/pilot/setup`. Screenshots go to
 * test-output/screenshots/ for a person to look at.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { launchChromium, SHOTS } from '../helpers/browser.ts';
import { createUser, createWorkspace } from '../helpers/factories.ts';
import { startLoggedInApp, type TestApp } from '../helpers/test-app.ts';
import { until } from '../helpers/wait.ts';

const LICENCE = { id: '123456', key: 'test-app-key', license: 'test-app-license==' };
const PILOT = { username: 'pilot1', password: 'pilot1-password' };

interface Call {
  name: string;
  args: unknown[];
}

/**
 * A stand-in for Pilot 2's `window.djiBridge`: records each call with its arguments, answers
 * `{"code":0,…}` JSON strings, and calls a component's connectCallback as Pilot does.
 * `fail` names calls that answer an error instead.
 */
function fakeBridge(fail: string[] = []) {
  const failing = JSON.stringify(fail);
  return `(() => {
    const failing = ${failing};
    window.__calls = [];
    const answer = (name, data) =>
      failing.includes(name)
        ? JSON.stringify({ code: 10001, message: name + ' refused by test', data: null })
        : JSON.stringify({ code: 0, message: 'success', data });
    const handler = {
      get(target, name) {
        if (name in target) return target[name];
        if (typeof name !== 'string' || name.startsWith('on')) return undefined;
        return (...args) => {
          window.__calls.push({ name, args });
          if (name === 'platformLoadComponent' && !failing.includes(name)) {
            const params = JSON.parse(args[1]);
            if (params.connectCallback) setTimeout(() => window[params.connectCallback](true), 50);
          }
          return answer(name, name === 'platformIsVerified' ? true : name === 'platformLoadComponent' ? args[1] : null);
        };
      },
    };
    window.djiBridge = new Proxy({}, handler);
  })();`;
}

describe('the Pilot 2 page', () => {
  let t: TestApp;
  let token: string;
  let base: string;
  let browser: Browser;

  before(async () => {
    const started = await startLoggedInApp({
      env: {
        SKYVAULT_DJI_APP_ID: LICENCE.id,
        SKYVAULT_DJI_APP_KEY: LICENCE.key,
        SKYVAULT_DJI_APP_LICENSE: LICENCE.license,
      },
    });
    ({ t, token } = started);
    base = `http://127.0.0.1:${(t.app.http.server.address() as { port: number }).port}`;
    const admin = await t.login();
    await createUser(t.app.database.db, admin.workspace_id, PILOT.username, PILOT.password);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  async function openPage(options: BrowserContextOptions & { bridge?: string } = {}): Promise<Page> {
    const { bridge, ...contextOptions } = options;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
    const page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    if (bridge) await page.addInitScript(bridge);
    await page.goto(`${base}/pilot`);
    return page;
  }

  async function logIn(page: Page, account = PILOT) {
    await page.fill('#username', account.username);
    await page.fill('#password', account.password);
    await page.click('#login-button');
    await page.waitForSelector('#screen-home:not([hidden])');
  }

  // The page runs in the browser; this project's TypeScript has no DOM types, so page code is passed as strings.
  const calls = (page: Page) => page.evaluate('window.__calls') as Promise<Call[]>;

  async function shoot(page: Page, name: string, sizes = [{ width: 1280, height: 800 }]) {
    for (const size of sizes) {
      await page.setViewportSize(size);
      await page.screenshot({
        path: path.join(SHOTS, `pilot-${name}-${size.width}x${size.height}.png`),
        fullPage: true,
      });
    }
  }

  it('hands Pilot 2 the licence, workspace, server, MQTT login and media settings in the order of §8', async () => {
    const page = await openPage({ bridge: fakeBridge() });
    assert.equal(await page.isVisible('#no-bridge'), false, 'no "open in Pilot" banner inside Pilot');
    await shoot(page, 'login-en', [
      { width: 1280, height: 800 },
      { width: 768, height: 1024 },
    ]);
    const [loginResponse] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/manage/api/v1/login')),
      logIn(page),
    ]);
    const login = (await loginResponse.json()).data as Record<string, string>;
    assert.equal(JSON.parse(loginResponse.request().postData() ?? '{}').flag, 2);
    await page.waitForSelector('#status-mqtt[data-connected="true"]');

    const recorded = await calls(page);
    const names = recorded.map((c) => (c.name === 'platformLoadComponent' ? `load:${c.args[0]}` : c.name));
    assert.deepEqual(names, [
      'platformVerifyLicense',
      'platformIsVerified',
      'platformSetWorkspaceId',
      'platformSetInformation',
      'load:api',
      'load:thing',
      'load:ws',
      'load:media',
      'mediaSetDownloadOwner',
    ]);
    const args = (i: number) => recorded[i]!.args;
    const params = (i: number) => JSON.parse(String(args(i)[1])) as Record<string, unknown>;
    assert.deepEqual(args(0), [LICENCE.id, LICENCE.key, LICENCE.license]);
    assert.deepEqual(args(2), [login.workspace_id]);
    const workspace = (
      await t.inject({ url: '/manage/api/v1/workspaces/current', headers: { 'x-auth-token': token } })
    ).json().data;
    assert.deepEqual(args(3), [workspace.platform_name, workspace.workspace_name, workspace.workspace_desc]);
    assert.deepEqual(params(4), { host: base, token: login.access_token });
    assert.deepEqual(params(5), {
      host: login.mqtt_addr,
      username: login.mqtt_username,
      password: login.mqtt_password,
      connectCallback: 'skyvaultThingConnected',
    });
    assert.match(String(params(5).host), /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(params(6), {
      host: `${base.replace('http', 'ws')}/api/v1/ws`,
      token: login.access_token,
      connectCallback: 'skyvaultWsConnected',
    });
    assert.deepEqual(params(7), { autoUploadPhoto: true, autoUploadPhotoType: 1, autoUploadVideo: true });
    assert.deepEqual(args(8), [0]);

    assert.equal(await page.textContent('#status-mqtt'), 'Connected');
    assert.equal(await page.textContent('#info-workspace'), workspace.workspace_name);
    assert.equal(await page.locator('#steps li.failed').count(), 0);
    await shoot(page, 'home-en', [
      { width: 1280, height: 800 },
      { width: 1024, height: 768 },
      { width: 768, height: 1024 },
    ]);

    // The upload settings reach Pilot at once; Pilot's back key returns to the home screen.
    await page.click('#open-settings');
    await page.uncheck('#set-photo');
    await page.selectOption('#set-photo-type', '0');
    await page.uncheck('#set-video');
    await page.selectOption('#set-owner', '1');
    await shoot(page, 'settings-en', [{ width: 1024, height: 768 }]);
    const settingCalls = (await calls(page)).slice(recorded.length);
    assert.deepEqual(settingCalls, [
      { name: 'mediaSetAutoUploadPhoto', args: [false] },
      { name: 'mediaSetUploadPhotoType', args: [0] },
      { name: 'mediaSetAutoUploadVideo', args: [false] },
      { name: 'mediaSetDownloadOwner', args: [1] },
    ]);
    const back = () => page.evaluate('window.djiBridge.onBackClick()');
    assert.equal(await back(), true, 'the back key stays on the page and leaves the settings');
    assert.equal(await page.isVisible('#screen-home'), true);
    assert.equal(await back(), false, 'on the home screen the back key is Pilot 2’s');

    // A token refresh hands Pilot the new token and reloads api, then media (with the changed settings).
    const before = (await calls(page)).length;
    assert.equal(await page.evaluate('window.skyvaultPilot.refreshToken()'), true);
    const refreshed = (await calls(page)).slice(before);
    const stored = (await page.evaluate("JSON.parse(localStorage.getItem('skyvault.pilot.session'))")) as {
      access_token: string;
    };
    assert.notEqual(stored.access_token, login.access_token);
    assert.deepEqual(
      refreshed.map((c) => [c.name, ...c.args.slice(0, 1)]),
      [
        ['apiSetToken', stored.access_token],
        ['platformUnloadComponent', 'media'],
        ['platformLoadComponent', 'api'],
        ['platformLoadComponent', 'media'],
        ['mediaSetDownloadOwner', 1],
      ],
    );
    assert.deepEqual(JSON.parse(String(refreshed[2]!.args[1])), { host: base, token: stored.access_token });
    assert.deepEqual(JSON.parse(String(refreshed[3]!.args[1])), {
      autoUploadPhoto: false,
      autoUploadPhotoType: 0,
      autoUploadVideo: false,
    });

    // Reopening the page resumes the stored session without a login.
    await page.reload();
    await page.waitForSelector('#status-mqtt[data-connected="true"]');
    assert.equal(await page.isVisible('#screen-login'), false);

    // Logging out disconnects and unloads everything, stops the page and forgets the session.
    const beforeLogout = (await calls(page)).length;
    await page.click('#logout');
    const loggedOut = (await calls(page)).slice(beforeLogout);
    assert.deepEqual(
      loggedOut.map((c) => [c.name, ...c.args]),
      [
        ['thingDisconnect'],
        ['platformUnloadComponent', 'media'],
        ['platformUnloadComponent', 'ws'],
        ['platformUnloadComponent', 'thing'],
        ['platformUnloadComponent', 'api'],
        ['platformStopSelf'],
      ],
    );
    assert.equal(await page.evaluate("localStorage.getItem('skyvault.pilot.session')"), null);
    assert.equal(await page.isVisible('#screen-login'), true);
    // …and ends the session on the server: the token the page held no longer works.
    await until('the logged-out token is refused', async () => {
      const current = await fetch(`${base}/manage/api/v1/users/current`, {
        headers: { 'x-auth-token': stored.access_token },
      });
      return current.status === 401 || undefined;
    });
    await page.context().close();
  });

  it('says plainly when the server has no DJI licence, or Pilot refuses it, and loads no component', async () => {
    // The server's answer without the licence, as a server without SKYVAULT_DJI_* gives it.
    const page = await openPage({ bridge: fakeBridge() });
    await page.route('**/api/v1/pilot/setup', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      Object.assign(body.data, { app_id: '', app_key: '', app_license: '' });
      await route.fulfill({ response, json: body });
    });
    await logIn(page);
    await page.waitForSelector('#problem:not([hidden])');
    assert.match(
      (await page.textContent('#problem')) ?? '',
      /has not set SKYVAULT_DJI_APP_ID, _APP_KEY, _APP_LICENSE/,
    );
    assert.deepEqual(await calls(page), []);
    await shoot(page, 'no-licence-en', [{ width: 1024, height: 768 }]);
    await page.context().close();

    const refused = await openPage({ bridge: fakeBridge(['platformVerifyLicense']) });
    await logIn(refused);
    await refused.waitForSelector('#problem:not([hidden])');
    assert.match((await refused.textContent('#problem')) ?? '', /did not accept the DJI app licence/);
    assert.match((await refused.textContent('#steps li.failed')) ?? '', /refused by test/);
    assert.deepEqual(
      (await calls(refused)).map((c) => c.name),
      ['platformVerifyLicense'],
    );
    await refused.context().close();
  });

  it('in a plain browser, says to open it inside DJI Pilot 2, and login still works', async () => {
    const page = await openPage();
    assert.equal(await page.isVisible('#no-bridge'), true);
    assert.match(
      (await page.textContent('#no-bridge')) ?? '',
      /DJI Pilot 2.*Cloud Service → Open Platforms/s,
    );
    await logIn(page);
    await page.waitForFunction("document.querySelector('#info-workspace').textContent !== '—'");
    assert.match((await page.textContent('#info-mqtt')) ?? '', /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await page.textContent('#info-user'), PILOT.username);
    await shoot(page, 'browser-en', [{ width: 1280, height: 800 }]);

    // A wrong password is said on the page.
    await page.click('#logout');
    await page.fill('#username', PILOT.username);
    await page.fill('#password', 'wrong');
    await page.click('#login-button');
    await page.waitForSelector('#login-error:not(:empty)');
    assert.match((await page.textContent('#login-error')) ?? '', /^Login failed/);
    await page.context().close();
  });

  it('speaks Chinese to a Chinese Pilot 2, and switches language on request', async () => {
    const page = await openPage({ locale: 'zh-CN', bridge: fakeBridge() });
    assert.equal(await page.textContent('#screen-login h2'), '登录');
    await shoot(page, 'login-zh', [
      { width: 1280, height: 800 },
      { width: 768, height: 1024 },
    ]);
    await logIn(page);
    await page.waitForSelector('#status-mqtt[data-connected="true"]');
    assert.equal(await page.textContent('#status-mqtt'), '已连接');
    await shoot(page, 'home-zh', [
      { width: 1280, height: 800 },
      { width: 1024, height: 768 },
      { width: 768, height: 1024 },
    ]);
    await page.click('#lang');
    assert.equal(await page.textContent('#status-mqtt'), 'Connected');
    await page.context().close();
  });

  it('GET /api/v1/pilot/setup needs a token and answers the licence with the caller’s workspace', async () => {
    const anonymous = await fetch(`${base}/api/v1/pilot/setup`);
    assert.equal(anonymous.status, 401);

    const otherWs = await createWorkspace(t.app.database.db, 'Workspace B');
    await createUser(t.app.database.db, otherWs, 'b-user', 'b-password');
    for (const [account, name] of [
      [{ username: PILOT.username, password: PILOT.password }, undefined],
      [{ username: 'b-user', password: 'b-password' }, 'Workspace B'],
    ] as const) {
      const login = await t.login(account.username, account.password);
      const response = await fetch(`${base}/api/v1/pilot/setup`, {
        headers: { 'x-auth-token': login.access_token },
      });
      assert.equal(response.status, 200);
      const body = (await response.json()) as { code: number; data: Record<string, string> };
      assert.equal(body.code, 0);
      const current = (
        await t.inject({
          url: '/manage/api/v1/workspaces/current',
          headers: { 'x-auth-token': login.access_token },
        })
      ).json().data;
      if (name) assert.equal(current.workspace_name, name);
      assert.deepEqual(body.data, {
        app_id: LICENCE.id,
        app_key: LICENCE.key,
        app_license: LICENCE.license,
        platform_name: current.platform_name,
        workspace_name: current.workspace_name,
        workspace_desc: current.workspace_desc,
        api_host: base,
        mqtt_host: login.mqtt_addr.replace('//localhost:', '//127.0.0.1:'), // inject() asks for localhost
        ws_host: `${base.replace('http', 'ws')}/api/v1/ws`,
      });
    }

    const page = await fetch(`${base}/pilot`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  });
});
