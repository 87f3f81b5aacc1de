/**
 * The web app's devices page and a dock's remote logs in a real Chromium, against a real Skyvault:
 * - devices that connect over MQTT (a test dock and a remote controller speaking the protocol) appear
 *   live with their model names, aircraft, firmware and online state, go offline live, are unbound after
 *   confirmation and bound again by serial number (and a refused binding says why);
 * - a simulated DJI Dock (`simulateDock`, staying online) lists its own and its aircraft's logs; the page
 *   uploads a choice of them, follows the upload's progress live to the end, downloads the file (bytes
 *   checked against storage), shows the dock's refusal while it is busy, cancels an upload, shows why an
 *   upload failed, and deletes an upload after confirmation.
 * Screenshots (desktop and tablet, English and Chinese) go to test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { aircraftSn, dockSn, simulateDock } from '../../src/simulate/dock.ts';
import { launchChromium, SHOTS } from '../helpers/browser.ts';
import { connectDock, mqttAccountOf, type TestDock } from '../helpers/dock.ts';
import { createWorkspace } from '../helpers/factories.ts';
import { ADMIN_PASSWORD, startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

const WEB_BUILD = path.resolve(import.meta.dirname, '../../dist/web/index.html');
const SIZES = [
  { name: 'desktop', width: 1440, height: 900 },
  { name: 'tablet', width: 820, height: 1180 },
];

const DOCK = 'DOCKWEB000000001';
const DOCK_AIRCRAFT = '1581F5BKD225D00WEB1';
const RC = 'RCWEB0000000001';
const RC_AIRCRAFT = '1581F5BKD225D00WEB2';
const SIM_DOCK = dockSn(1);
const SIM_AIRCRAFT = aircraftSn(1);

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface UploadedTask {
  logs_id: string;
  status: number;
  reason: string | null;
  device_logs: { files: { file_id: string; module: string; object_key?: string }[] };
}

describe('the devices page and remote logs', () => {
  let t: TestApp;
  let token: string;
  let ws: string;
  let base: string;
  let mqttUrl: string;
  let account: { username: string; password: string };
  let browser: Browser;
  let page: Page;
  let dock: TestDock | undefined;
  let rc: TestDock | undefined;
  /** The simulated dock of the logs tests, and how to stop it. */
  let simulation: { stop: AbortController; done: Promise<unknown> } | undefined;
  const errors: string[] = [];

  /** Screenshots at both sizes; `show`: an element scrolled into view first (the page scrolls inside). */
  async function shoot(name: string, show?: string) {
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await page.waitForTimeout(300);
      if (show) await page.locator(show).first().scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(SHOTS, `web-${name}-${size.name}.png`), fullPage: true });
    }
    await page.setViewportSize(SIZES[0]!);
  }

  const api = async (method: string, url: string) =>
    (await t.inject({ method, url, headers: { 'x-auth-token': token } })).json() as {
      code: number;
      message: string;
      data: unknown;
    };

  const history = async (sn: string): Promise<UploadedTask[]> =>
    (
      (await api('GET', `/manage/api/v1/workspaces/${ws}/devices/${sn}/logs-uploaded?page=1&page_size=50`))
        .data as { list: UploadedTask[] }
    ).list;

  const gateway = (sn: string) => page.locator(`[data-gateway-sn="${sn}"]`);
  const task = (id: string) => page.locator(`[data-logs-id="${id}"]`);

  /** Topology of a gateway with one aircraft (or none). */
  const topology = (model: { domain: number; type: number }, aircraft?: string) => ({
    domain: model.domain,
    type: model.type,
    sub_type: 0,
    thing_version: '1.1.2',
    sub_devices: aircraft ? [{ sn: aircraft, domain: 0, type: 67, sub_type: 0, index: 'A' }] : [],
  });

  async function reportFirmware(device: TestDock, version: string) {
    await device.client.publishAsync(
      `thing/product/${device.sn}/state`,
      JSON.stringify({ tid: 'fw', bid: 'fw', timestamp: Date.now(), data: { firmware_version: version } }),
      { qos: 1 },
    );
    for (let i = 0; i < 100 && (await t.app.devices.find(device.sn))?.firmwareVersion !== version; i++) {
      await sleep(50);
    }
  }

  /** Runs the dock simulator with one dock that stays online, until stopped. */
  async function startSimulatedDock(options: { logStepMs: number; failLogs?: number }) {
    const stop = new AbortController();
    const done = simulateDock({
      url: base,
      username: 'admin',
      password: ADMIN_PASSWORD,
      count: 1,
      files: 0,
      stay: true,
      signal: stop.signal,
      out: () => {},
      ...options,
    });
    done.catch(() => undefined);
    simulation = { stop, done };
    for (let i = 0; i < 200 && (await t.app.devices.find(SIM_DOCK))?.online !== 1; i++) await sleep(50);
    assert.equal((await t.app.devices.find(SIM_DOCK))?.online, 1, 'the simulated dock came online');
  }

  async function stopSimulatedDock() {
    if (!simulation) return;
    simulation.stop.abort();
    await simulation.done.catch(() => undefined);
    simulation = undefined;
    for (let i = 0; i < 200 && (await t.app.devices.find(SIM_DOCK))?.online !== 0; i++) await sleep(50);
  }

  /** Opens the simulated dock's logs and waits for both modules' lists. */
  async function openSimulatedDockLogs() {
    await page.goto(`${base}/devices?logs=${SIM_DOCK}`);
    await page.waitForSelector('.log-module[data-module="3"] .boot');
    await page.waitForSelector('.log-module[data-module="0"] .boot');
  }

  /** Starts an upload of the newest dock boot session from the page; returns its logs_id. */
  async function uploadNewestDockLog(description: string): Promise<string> {
    const before = new Set((await history(SIM_DOCK)).map((x) => x.logs_id));
    await page.locator('.log-module[data-module="3"] .boot input').first().check();
    await page.fill('textarea[name=logs_information]', description);
    await page.click('text=Upload selected logs');
    let created: UploadedTask | undefined;
    for (let i = 0; i < 100 && !created; i++) {
      created = (await history(SIM_DOCK)).find((x) => !before.has(x.logs_id));
      if (!created) await sleep(50);
    }
    assert.ok(created, 'the upload was recorded');
    await task(created.logs_id).waitFor();
    return created.logs_id;
  }

  before(async () => {
    assert.ok(existsSync(WEB_BUILD), 'the web app is not built: npm run build:web (npm ci does it)');
    ({ t, token, ws } = await startLoggedInApp({ env: { SKYVAULT_DEVICE_REPLY_TIMEOUT: '3000' } }));
    base = `http://127.0.0.1:${(t.app.http.server.address() as { port: number }).port}`;
    mqttUrl = `mqtt://127.0.0.1:${t.app.broker!.port}`;
    account = await mqttAccountOf(t, token);
    browser = await launchChromium();
    // Playwright's string predicates need `new Function`, which the app's CSP forbids (web-app.test.ts
    // checks the app under its CSP).
    const context = await browser.newContext({
      viewport: SIZES[0],
      locale: 'en-US',
      acceptDownloads: true,
      bypassCSP: true,
    });
    page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
  });
  after(async () => {
    await stopSimulatedDock();
    await dock?.close().catch(() => undefined);
    await rc?.close().catch(() => undefined);
    await browser?.close();
    await t?.close();
    assert.deepEqual(errors, [], 'no error in the page');
  });

  it('explains how to connect a dock while no device is bound', async () => {
    await page.goto(`${base}/devices`);
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=devices-empty]');
    assert.ok(await page.isVisible('[data-testid=devices-empty] [data-testid=connect-guide]'));
    assert.match((await page.textContent('[data-testid=connect-guide]')) ?? '', /MQTT gateway address/);
    assert.ok(await page.isVisible('.tab.active:has-text("Devices")'), 'the header links the page');
    await shoot('devices-empty');
  });

  it('shows docks and controllers as they connect, with their aircraft, firmware and online state', async () => {
    await page.waitForSelector('.live-dot.on');
    dock = await connectDock(mqttUrl, DOCK, account);
    assert.equal(
      (await dock.send('status', 'update_topo', topology({ domain: 3, type: 1 }, DOCK_AIRCRAFT)))?.data
        .result,
      0,
    );
    // Live: no reload.
    await gateway(DOCK).waitFor();
    rc = await connectDock(mqttUrl, RC, account);
    assert.equal(
      (await rc.send('status', 'update_topo', topology({ domain: 2, type: 119 }, RC_AIRCRAFT)))?.data.result,
      0,
    );
    await gateway(RC).waitFor();
    await reportFirmware(dock, '10.01.16.04');
    await page.reload();
    await gateway(DOCK).waitFor();

    const dockRow = gateway(DOCK).locator(`.device-row[data-device-sn="${DOCK}"]`);
    const dockText = (await dockRow.textContent()) ?? '';
    assert.match(dockText, /Dock/);
    assert.match(dockText, /DJI Dock/);
    assert.match(dockText, /Firmware 10\.01\.16\.04/);
    assert.match(dockText, /Last seen \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
    assert.equal(await dockRow.locator('.online-state').getAttribute('data-online'), 'true');
    assert.match((await dockRow.locator('.online-state').textContent()) ?? '', /Online/);
    const aircraftRow = gateway(DOCK).locator(`.device-row[data-device-sn="${DOCK_AIRCRAFT}"]`);
    assert.match((await aircraftRow.textContent()) ?? '', /Aircraft.*Matrice 30/);
    assert.equal(await aircraftRow.locator('.online-state').getAttribute('data-online'), 'true');

    const rcRow = gateway(RC).locator(`.device-row[data-device-sn="${RC}"]`);
    assert.match((await rcRow.textContent()) ?? '', /Remote controller.*DJI RC Plus/);
    assert.equal(await gateway(RC).locator('text=Remote logs').count(), 0, 'remote logs are for docks');
    assert.equal(await gateway(DOCK).locator('text=Remote logs').count(), 1);
    assert.match(
      (await page.textContent('[data-testid=devices-count]')) ?? '',
      /2 docks and remote controllers/,
    );
    await shoot('devices');
  });

  it('shows a device going offline live', async () => {
    await page.evaluate('window.__marker = true');
    await rc!.close();
    rc = undefined;
    await page.waitForSelector(
      `[data-gateway-sn="${RC}"] .device-row[data-device-sn="${RC}"] [data-online=false]`,
    );
    await page.waitForSelector(
      `[data-gateway-sn="${RC}"] .device-row[data-device-sn="${RC_AIRCRAFT}"] [data-online=false]`,
    );
    assert.match((await gateway(RC).textContent()) ?? '', /Offline/);
    assert.equal(
      await gateway(DOCK).locator(`.device-row[data-device-sn="${DOCK}"] [data-online=true]`).count(),
      1,
    );
    assert.equal(await page.evaluate('window.__marker'), true, 'no reload');
  });

  it('unbinds a device after confirmation, and binds it again by serial number', async () => {
    await gateway(RC).locator('button:has-text("Unbind")').click();
    await page.waitForSelector('.dialog');
    assert.match((await page.textContent('.dialog')) ?? '', new RegExp(`Unbind DJI RC Plus \\(${RC}\\)`));
    await shoot('devices-unbind-confirm');
    await page.click('.dialog >> text=Keep');
    assert.equal(await gateway(RC).count(), 1, 'Keep unbinds nothing');
    await gateway(RC).locator('button:has-text("Unbind")').click();
    await page.click('.dialog button.danger');
    await gateway(RC).waitFor({ state: 'detached' });
    assert.equal((await t.app.devices.find(RC))?.workspaceId, null);
    assert.equal(await gateway(DOCK).count(), 1);

    // A device that never connected: the server's reason.
    await page.fill('input[name=device_sn]', 'NEVER-CONNECTED-1');
    await page.click('[data-testid=bind-form] button[type=submit]');
    await page.waitForSelector('[data-testid=bind-form] .notice.error');
    assert.match(
      (await page.textContent('[data-testid=bind-form] .notice.error')) ?? '',
      /Binding failed: The device has not connected to Skyvault yet/,
    );
    await shoot('devices-bind-refused');
    // A device of another workspace: said in words, not as the token error the route answers.
    const other = await createWorkspace(t.app.database.db);
    await t.app.devices.bind('OTHER-WS-DOCK-1', other, { model: { domain: 3, type: 1, subType: 0 } });
    await page.fill('input[name=device_sn]', 'OTHER-WS-DOCK-1');
    await page.click('[data-testid=bind-form] button[type=submit]');
    await page.waitForFunction(
      `/bound to another workspace/.test(document.querySelector('[data-testid=bind-form] .notice.error')?.textContent ?? '')`,
    );
    await page.fill('input[name=device_sn]', RC);
    await page.click('[data-testid=bind-form] button[type=submit]');
    await gateway(RC).waitFor();
    assert.equal((await t.app.devices.find(RC))?.workspaceId, ws);
    assert.equal(await page.locator('[data-testid=bind-form] .notice.error').count(), 0);
  });

  it('reads in Chinese, at desktop and tablet sizes', async () => {
    await page.waitForSelector('.toast', { state: 'detached' });
    await page.click('.header >> text=中文');
    await page.waitForSelector('.tab.active:has-text("设备")');
    assert.match((await gateway(DOCK).textContent()) ?? '', /机场.*在线/);
    await shoot('devices-zh');
    await page.click('.header >> text=English');
  });

  it('lists what a dock holds for itself and its aircraft, after a loading state', async () => {
    await startSimulatedDock({ logStepMs: 500 });
    await page.goto(`${base}/devices`);
    // The dock answers in milliseconds here; a real one takes seconds: held back to see the waiting state.
    const listing = '**/logs?domain_list=*';
    await page.route(listing, async (route) => {
      await sleep(1500);
      await route.continue();
    });
    await gateway(SIM_DOCK).locator('text=Remote logs').click();
    await page.waitForURL(new RegExp(`/devices\\?logs=${SIM_DOCK}$`));
    await page.waitForSelector('[data-testid=log-listing-loading]');
    assert.match(
      (await page.textContent('[data-testid=log-listing-loading]')) ?? '',
      /Asking the dock for its logs/,
    );
    await page.waitForSelector('.log-module[data-module="3"] .boot');
    await page.unroute(listing);
    const dockBoots = await page.locator('.log-module[data-module="3"] .boot').count();
    const aircraftBoots = await page.locator('.log-module[data-module="0"] .boot').count();
    assert.ok(dockBoots >= 5 && aircraftBoots >= 5, `boot sessions listed: ${dockBoots}, ${aircraftBoots}`);
    assert.match((await page.textContent('.log-module[data-module="3"]')) ?? '', new RegExp(SIM_DOCK));
    assert.match((await page.textContent('.log-module[data-module="0"]')) ?? '', new RegExp(SIM_AIRCRAFT));
    // Every session has its time range and size (the epoch-ms times the server normalised).
    const first = (await page.locator('.log-module[data-module="3"] .boot').first().textContent()) ?? '';
    assert.match(first, /Boot \d+ · [\d.]+ (B|KB|MB)/);
    assert.match(first, /\d{4}/);
    assert.match((await page.textContent('[data-testid=log-history]')) ?? '', /No log has been uploaded/);
    await shoot('logs-listing');
  });

  it('uploads the chosen logs with live progress, then downloads the file', async () => {
    // Select all of the dock's sessions, one of the aircraft's.
    await page.locator('.log-module[data-module="3"] .select-all input').check();
    await page.locator('.log-module[data-module="0"] .boot input').first().check();
    const dockBoots = await page.locator('.log-module[data-module="3"] .boot').count();
    assert.match(
      (await page.textContent('[data-testid=log-selection]')) ?? '',
      new RegExp(`${dockBoots + 1} selected`),
    );
    await page.fill('textarea[name=logs_information]', 'Aircraft did not take off at 14:05');
    await page.fill('input[name=happen_time]', '2026-11-29T14:05');
    await page.click('text=Upload selected logs');
    await page.waitForSelector('.log-task');
    const [created] = await history(SIM_DOCK);
    assert.ok(created);
    const row = task(created.logs_id);
    assert.match((await row.textContent()) ?? '', /Aircraft did not take off at 14:05/);
    assert.match((await row.textContent()) ?? '', /Happened 2026-11-29 14:05/);
    assert.equal(await row.locator('.log-file').count(), 2, 'one line per module');
    // Live progress: a percent above 0 and below 100 while uploading.
    await page.waitForSelector(`[data-logs-id="${created.logs_id}"] [data-status="1"]`);
    await page.waitForFunction(
      `[...document.querySelectorAll('[data-logs-id="${created.logs_id}"] [data-testid=log-file-percent]')].some((e) => { const p = parseInt(e.textContent); return p > 0 && p < 100; })`,
    );
    await shoot('logs-uploading', `[data-logs-id="${created.logs_id}"]`);
    await page.waitForSelector(`[data-logs-id="${created.logs_id}"] [data-status="2"]`, { timeout: 30_000 });
    assert.equal(await row.locator('button:has-text("Download")').count(), 2);
    assert.equal(await row.locator('button:has-text("Cancel upload")').count(), 0);
    await shoot('logs-done', `[data-logs-id="${created.logs_id}"]`);

    const [done] = await history(SIM_DOCK);
    const dockFile = done!.device_logs.files.find((f) => f.module === '3')!;
    assert.ok(dockFile.object_key, 'the dock file is uploaded');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.locator('.log-file[data-module="3"] button:has-text("Download")').click(),
    ]);
    assert.match(download.suggestedFilename(), /\.tar$/);
    const saved = readFileSync((await download.path())!);
    assert.equal(saved.subarray(257, 262).toString(), 'ustar', 'a tar archive');
    const object = await t.app.storage.get(dockFile.object_key);
    assert.ok(object);
    const chunks: Buffer[] = [];
    for await (const chunk of object.body) chunks.push(Buffer.from(chunk as Uint8Array));
    assert.equal(md5(saved), md5(Buffer.concat(chunks)), 'the bytes in storage');
  });

  it('says when the dock is busy, and cancels an upload', async () => {
    await openSimulatedDockLogs();
    const running = await uploadNewestDockLog('to be canceled');
    await page.waitForSelector(`[data-logs-id="${running}"] [data-status="1"]`);
    // A second export while the first runs: the dock refuses, the page says why.
    await page.locator('.log-module[data-module="0"] .boot input').first().check();
    await page.click('text=Upload selected logs');
    await page.waitForSelector('[data-testid=log-start-error]');
    assert.match(
      (await page.textContent('[data-testid=log-start-error]')) ?? '',
      /The upload could not start: .*(busy|export)/i,
    );
    await shoot('logs-busy');
    await task(running).locator('button:has-text("Cancel upload")').click();
    await page.waitForSelector(`[data-logs-id="${running}"] [data-status="3"]`, { timeout: 20_000 });
    assert.match((await task(running).textContent()) ?? '', /Canceled/);
    assert.equal((await history(SIM_DOCK)).find((x) => x.logs_id === running)?.status, 3);
  });

  it('deletes an upload with its files after confirmation', async () => {
    const done = (await history(SIM_DOCK)).find((x) => x.status === 2)!;
    const keys = done.device_logs.files.map((f) => f.object_key!).filter(Boolean);
    assert.ok(keys.length > 0);
    await task(done.logs_id).locator('button:has-text("Delete")').click();
    await page.waitForSelector('.dialog');
    await page.click('.dialog >> text=Keep');
    assert.equal(await task(done.logs_id).count(), 1);
    await task(done.logs_id).locator('button:has-text("Delete")').click();
    await page.click('.dialog button.danger');
    await task(done.logs_id).waitFor({ state: 'detached' });
    assert.equal(
      (await history(SIM_DOCK)).some((x) => x.logs_id === done.logs_id),
      false,
    );
    for (const key of keys) assert.equal(await t.app.storage.head(key), undefined, `${key} removed`);
  });

  it('shows why an upload failed, in plain words', async () => {
    await stopSimulatedDock();
    await startSimulatedDock({ logStepMs: 200, failLogs: 324019 });
    await openSimulatedDockLogs();
    const failing = await uploadNewestDockLog('network trouble');
    await page.waitForSelector(`[data-logs-id="${failing}"] [data-status="4"]`, { timeout: 20_000 });
    const reason = (await task(failing).locator('[data-testid=log-task-reason]').textContent()) ?? '';
    assert.match(reason, /^Why: /);
    assert.doesNotMatch(reason, /^Why: (the device answered error )?\d+$/, `a reason in words: ${reason}`);
    assert.match((await task(failing).textContent()) ?? '', /Failed/);
    await shoot('logs-failed', `[data-logs-id="${failing}"]`);
    await page.waitForSelector('.toast', { state: 'detached' });
    await page.click('.header >> text=中文');
    await page.waitForSelector('text=已上传的日志');
    await shoot('logs-zh', `[data-logs-id="${failing}"]`);
    await page.click('.header >> text=English');
  });

  it('says so when the dock is offline', async () => {
    await stopSimulatedDock();
    await page.goto(`${base}/devices?logs=${SIM_DOCK}`);
    await page.waitForSelector('[data-testid=log-listing-error]');
    assert.match(
      (await page.textContent('[data-testid=log-listing-error]')) ?? '',
      /could not be listed: .+/,
    );
    assert.match((await page.textContent('[data-testid=device-logs]')) ?? '', /The dock is offline/);
    await shoot('logs-offline');
  });

  it('runs under its Content-Security-Policy without a violation', async () => {
    const strict = await browser.newContext({ viewport: SIZES[1], locale: 'zh-CN' });
    const tab = await strict.newPage();
    const problems: string[] = [];
    tab.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    tab.on('pageerror', (e) => problems.push(e.message));
    await tab.goto(`${base}/devices`);
    await tab.fill('input[name=username]', 'admin');
    await tab.fill('input[name=password]', ADMIN_PASSWORD);
    await tab.click('button[type=submit]');
    await tab.waitForSelector(`[data-gateway-sn="${DOCK}"]`);
    await tab.click(`[data-gateway-sn="${SIM_DOCK}"] >> text=远程日志`);
    await tab.waitForSelector('[data-testid=log-history] .log-task');
    await strict.close();
    assert.deepEqual(
      problems.filter((p) => /Content.Security.Policy|Refused to/i.test(p)),
      [],
    );
  });
});
