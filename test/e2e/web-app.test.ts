/**
 * The web app at `/` in a real Chromium, against a real Skyvault whose media were uploaded by the Pilot 2
 * simulator over the real protocol: log in, see thumbnails, filter (and the URL keeps the filters), open a
 * detail with its preview and metadata, play a video from storage with Range requests, download one file
 * and a zip of several (bytes checked), delete with confirmation, see markers on the map, and see a new
 * file arrive live. Screenshots of every page (desktop and tablet, English and Chinese) go to
 * test-output/screenshots/ for a person to look at.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { launchChromium, SHOTS } from '../helpers/browser.ts';
import yauzl from 'yauzl';
import { simulatePilot } from '../../src/simulate/pilot.ts';
import { ADMIN_PASSWORD, startLoggedInApp, type TestApp } from '../helpers/test-app.ts';

const WEB_BUILD = path.resolve(import.meta.dirname, '../../dist/web/index.html');
const SIZES = [
  { name: 'desktop', width: 1440, height: 900 },
  { name: 'tablet', width: 1024, height: 768 },
];

interface Row {
  id: string;
  name: string;
  mediaType: string;
  objectKey: string;
}

async function objectBytes(t: TestApp, key: string): Promise<Buffer> {
  const object = await t.app.storage.get(key);
  assert.ok(object, `object ${key} exists`);
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

// The page runs in the browser; this project's TypeScript has no DOM types, so page code is passed as strings.
const tileCount = (p: Page, n: number) =>
  p.waitForFunction(`document.querySelectorAll('.tile').length === ${n}`);

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function zipEntries(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(error ?? new Error('no zip'));
      const entries = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error('no stream'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('the web app', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let rows: Row[];
  const storageRequests: { url: string; range: string | undefined; status: number }[] = [];

  const upload = async (files: number) => {
    const summary = await simulatePilot({
      url: base,
      username: 'admin',
      password: ADMIN_PASSWORD,
      files,
      out: () => {},
    });
    assert.equal(summary.failed, 0);
    await t.app.enricher.idle();
  };
  const files = async (): Promise<Row[]> =>
    (await t.app.database.db
      .selectFrom('mediaFiles')
      .select(['id', 'name', 'mediaType', 'objectKey'])
      .orderBy('takenAt', 'desc')
      .execute()) as Row[];

  async function shoot(name: string) {
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(SHOTS, `web-${name}-${size.name}.png`) });
    }
    await page.setViewportSize(SIZES[0]!);
  }

  const tiles = () => page.locator('.tile');

  before(async () => {
    assert.ok(existsSync(WEB_BUILD), 'the web app is not built: npm run build:web (npm ci does it)');
    const started = await startLoggedInApp();
    t = started.t;
    base = `http://127.0.0.1:${(t.app.http.server.address() as { port: number }).port}`;
    await upload(10);
    rows = await files();
    assert.ok(
      rows.some((r) => r.mediaType === 'video'),
      'the simulator uploads videos too',
    );
    browser = await launchChromium();
    // Playwright evaluates string predicates with `new Function`, which the app's CSP (rightly) forbids;
    // the last test checks the app itself under its CSP.
    context = await browser.newContext({
      viewport: SIZES[0],
      locale: 'en-US',
      acceptDownloads: true,
      bypassCSP: true,
    });
    page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    page.on('response', (response) => {
      const url = response.url();
      if (url.startsWith(base)) return;
      storageRequests.push({ url, range: response.request().headers().range, status: response.status() });
    });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  it('logs in and shows the simulated media with their thumbnails, grouped by day', async () => {
    await page.goto(base);
    await shoot('login');
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('.tile img');
    await tileCount(page, rows.length);
    // Every thumbnail (photos and video posters) decoded in the browser, from the object store.
    await page.waitForFunction(
      `[...document.querySelectorAll('.tile img')].every((i) => i.complete && i.naturalWidth > 0)`,
    );
    assert.equal(await page.locator('.tile img').count(), rows.length, 'every file has a thumbnail');
    assert.ok((await page.locator('.day-row h2').count()) >= 1);
    assert.match(
      (await page.textContent('[data-testid=library-count]')) ?? '',
      new RegExp(`${rows.length} files`),
    );
    await shoot('library');
  });

  it('filters by type and text, and keeps the filters in the URL', async () => {
    const videos = rows.filter((r) => r.mediaType === 'video');
    await page.click('.segmented button:has-text("Videos")');
    await page.waitForURL(/type=video/);
    await tileCount(page, videos.length);
    // The same URL in a new tab shows the same view.
    const shared = await context.newPage();
    await shared.goto(page.url());
    await tileCount(shared, videos.length);
    await shared.close();
    await page.click('.segmented button:has-text("All")');
    const target = rows[3]!;
    const fragment = target.name.slice(4, 19);
    await page.fill('input[type=search]', fragment);
    await page.waitForURL(/q=/);
    const expected = rows.filter((r) => r.name.includes(fragment)).length;
    await tileCount(page, expected);
    await page.click('text=Clear filters');
    await tileCount(page, rows.length);
  });

  it('opens a photo with its preview and metadata, and downloads it', async () => {
    const photo = rows.find((r) => r.mediaType === 'image')!;
    await page.click(`[data-file-id="${photo.id}"]`);
    await page.waitForURL(new RegExp(`file=${photo.id}`));
    await page.waitForFunction(
      `(() => { const i = document.querySelector('[data-testid=detail-image]'); return i && i.complete && i.naturalWidth > 0; })()`,
    );
    const width = (await page.evaluate(
      `document.querySelector('[data-testid=detail-image]').naturalWidth`,
    )) as number;
    assert.ok(width > 256 && width <= 1600, `the preview rendition is large (${width} px)`);
    const text = (await page.textContent('.metadata')) ?? '';
    for (const label of [
      'Captured',
      'Position',
      'Altitude (above sea level)',
      'Gimbal yaw',
      'Aircraft',
      'Camera',
      'Size',
    ]) {
      assert.ok(text.includes(label), `metadata shows ${label}: ${text}`);
    }
    assert.match(text, /°\s*[NS]/);
    await shoot('detail-photo');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('.detail-actions a')]);
    assert.equal(download.suggestedFilename(), photo.name);
    const saved = readFileSync((await download.path())!);
    assert.equal(md5(saved), md5(await objectBytes(t, photo.objectKey)));
    await page.keyboard.press('Escape');
    await page.waitForFunction(`!document.querySelector('.detail')`);
  });

  it('plays a video straight from storage with Range requests', async () => {
    const video = rows.find((r) => r.mediaType === 'video')!;
    await page.click(`[data-file-id="${video.id}"]`);
    await page.waitForSelector('[data-testid=detail-video]');
    await page.evaluate(`void document.querySelector('[data-testid=detail-video]').play()`);
    await page.waitForFunction(
      `(() => { const v = document.querySelector('[data-testid=detail-video]'); return v && v.currentTime > 0.2 && v.videoWidth > 0; })()`,
    );
    const ranged = storageRequests.filter((r) =>
      r.url.includes(encodeURI(video.objectKey).split('/').pop()!),
    );
    assert.ok(
      ranged.some((r) => r.range !== undefined && r.status === 206),
      `the video was read with Range requests: ${JSON.stringify(ranged)}`,
    );
    await shoot('detail-video');
    await page.keyboard.press('Escape');
  });

  it('downloads a selection as one zip with the files’ bytes', async () => {
    const chosen = rows.slice(0, 3);
    for (const row of chosen) await page.check(`.tile:has([data-file-id="${row.id}"]) input[type=checkbox]`);
    await page.waitForSelector('[data-testid=selection-bar]');
    await shoot('selection');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download as zip')]);
    const entries = await zipEntries((await download.path())!);
    assert.equal(entries.size, chosen.length);
    for (const row of chosen) {
      const entry = entries.get(row.name);
      assert.ok(entry, `${row.name} is in the zip (${[...entries.keys()].join(', ')})`);
      assert.equal(md5(entry), md5(await objectBytes(t, row.objectKey)));
    }
    // A large selection is posted as a form and saved by the browser itself (the limit lowered here).
    await page.evaluate(`localStorage.setItem('skyvault.zipInPageLimit', '1')`);
    const [large] = await Promise.all([page.waitForEvent('download'), page.click('text=Download as zip')]);
    const saved = await zipEntries((await large.path())!);
    assert.deepEqual([...saved.keys()].sort(), chosen.map((r) => r.name).sort());
    await page.evaluate(`localStorage.removeItem('skyvault.zipInPageLimit')`);
    await page.click('text=Clear selection');
  });

  it('deletes a file after confirmation: gone from the page, the database and storage', async () => {
    const victim = rows[rows.length - 1]!;
    await page.check(`.tile:has([data-file-id="${victim.id}"]) input[type=checkbox]`);
    await page.click('[data-testid=selection-bar] >> text=Delete');
    await page.waitForSelector('.dialog');
    await shoot('delete-confirm');
    await page.click('.dialog >> text=Keep');
    assert.equal(await tiles().count(), rows.length, 'Keep deletes nothing');
    await page.click('[data-testid=selection-bar] >> text=Delete');
    await page.click('.dialog button.danger');
    await tileCount(page, rows.length - 1);
    assert.equal(
      (await files()).some((r) => r.id === victim.id),
      false,
    );
    assert.equal(await t.app.storage.head(victim.objectKey), undefined);
    rows = await files();
  });

  it('shows the geotagged files as markers on the map, and a click opens one', async () => {
    await page.click('.tab:has-text("Map")');
    await page.waitForSelector('.map-cluster, .map-pin');
    await page.waitForFunction(
      `(/(\\d+) geotagged/.exec(document.querySelector('[data-testid=map-count]')?.textContent ?? '') ?? [])[1] === '${rows.length}'`,
    );
    await shoot('map');
    // Zoom in through clusters until single files show, then open one.
    for (let i = 0; i < 8 && (await page.locator('.map-pin').count()) === 0; i++) {
      await page.locator('.map-cluster').first().click();
      await page.waitForTimeout(600);
    }
    await page.locator('.map-pin').first().click();
    await page.waitForSelector('.detail');
    await page.keyboard.press('Escape');
  });

  it('lists the flight’s file group with its count, and opens its files', async () => {
    await page.click('.tab:has-text("Flights")');
    await page.waitForSelector('.group');
    await shoot('groups');
    await page.click('.group-link');
    await page.waitForURL(/group=/);
    await tileCount(page, rows.length);
  });

  it('shows a new file live, without a reload', async () => {
    await page.goto(`${base}/`);
    await tileCount(page, rows.length);
    await page.waitForSelector('.live-dot.on');
    await page.evaluate('window.__marker = true');
    await upload(1);
    await tileCount(page, rows.length + 1);
    // Its thumbnail, made after it arrived, follows without a reload too.
    await page.waitForFunction(`document.querySelectorAll('.tile img').length === ${rows.length + 1}`);
    assert.equal(await page.evaluate('window.__marker'), true, 'no reload');
  });

  it('reads in Chinese, at desktop and tablet sizes', async () => {
    await page.click('.header >> text=中文');
    await page.waitForSelector('text=媒体库');
    await shoot('library-zh');
    await page.click('.tab:has-text("地图")');
    await page.waitForSelector('.map-cluster, .map-pin');
    await shoot('map-zh');
    await page.click('.tab:has-text("连接设备")');
    await shoot('connect-zh');
    await page.click('.header >> text=English');
    await page.click('.tab:has-text("Connect devices")');
    await shoot('connect');
  });

  it('runs under its Content-Security-Policy without a violation', async () => {
    const strict = await browser.newContext({ viewport: SIZES[1], locale: 'zh-CN' });
    const tab = await strict.newPage();
    const problems: string[] = [];
    tab.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    tab.on('pageerror', (e) => problems.push(e.message));
    const response = await tab.goto(base);
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await tab.fill('input[name=username]', 'admin');
    await tab.fill('input[name=password]', ADMIN_PASSWORD);
    await tab.click('button[type=submit]');
    await tab.waitForSelector('.tile img');
    await tab.click('.tab:has-text("地图")');
    await tab.waitForSelector('.map-cluster, .map-pin');
    await tab.click('.tile-open, .map-cluster, .map-pin');
    await strict.close();
    assert.deepEqual(
      problems.filter((p) => /Content.Security.Policy|Refused to/i.test(p)),
      [],
    );
  });
});
