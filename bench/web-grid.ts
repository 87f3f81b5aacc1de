/**
 * The web library's grid with many files, in Debian's Chromium: how long infinite scroll takes to load
 * BENCH_LOADED files, how many tiles the page keeps in its DOM (virtualisation: a screenful, whatever
 * the count), its JS heap, and the frame intervals while the grid scrolls fast.
 *
 * Baseline in the same run: the frame intervals of the same browser scrolling a plain page (the
 * display's own frame time, and what the machine's load adds to it). Files are inserted straight into
 * the database (no objects: tiles show their placeholders, which costs the page the same DOM).
 *
 *   npm run bench -- web-grid          BENCH_FILES (100000), BENCH_LOADED (20000)
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '../src/db/database.ts';
import { SettingsRepo } from '../src/features/settings/settings.repo.ts';
import { launchChromium } from '../test/helpers/browser.ts';
import { startSkyvault } from './helpers.ts';
import { compared, recordFigures } from './report.ts';

const files = Number(process.env.BENCH_FILES ?? 100_000);
const loaded = Number(process.env.BENCH_LOADED ?? 20_000);
const dir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-grid-'));
const env = {
  SKYVAULT_DATA_DIR: dir,
  SKYVAULT_ADMIN_PASSWORD: 'bench-admin-password',
  SKYVAULT_PASSWORD_HASH_COST: '10',
};

// First start creates the schema and the workspace; then the files go straight into the database.
await (await startSkyvault(env)).stop();
const database = await openDatabase({ kind: 'sqlite', file: path.join(dir, 'skyvault.db') });
const ws = (await new SettingsRepo(database.db).get('default_workspace_id'))!;
let started = Date.now();
await database.db.transaction().execute(async (trx) => {
  for (let made = 0; made < files; made += 500) {
    const rows = Array.from({ length: Math.min(500, files - made) }, (_, i) => {
      const n = made + i;
      const at = Date.UTC(2025, 0, 1) + n * 600_000;
      const id = randomUUID();
      return {
        id,
        workspaceId: ws,
        objectKey: `${ws}/media/${id}.JPG`,
        name: `DJI_${n}_V.JPG`,
        path: '',
        source: 'pilot' as const,
        mediaType: n % 5 === 0 ? ('video' as const) : ('image' as const),
        isOriginal: 1,
        droneSn: `SN${n % 20}`,
        size: 1000,
        contentType: 'image/jpeg',
        etag: 'e',
        latitude: 22.5 + (n % 1000) / 10_000,
        longitude: 113.9 + (n % 997) / 10_000,
        capturedAt: at,
        enrichedAt: at,
        createdAt: at,
        updatedAt: at,
      };
    });
    await trx.insertInto('mediaFiles').values(rows).execute();
  }
});
await database.close();
console.log(
  `# ${files.toLocaleString('en')} files inserted in ${((Date.now() - started) / 1000).toFixed(0)} s`,
);

const server = await startSkyvault(env);
const browser = await launchChromium();
try {
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();

  // Frame intervals while an element scrolls by 600 px a frame for 3 s (a fast fling).
  const frames = async (selector: string) => {
    const times = (await page.evaluate(`new Promise((resolve) => {
      const s = document.querySelector(${JSON.stringify(selector)}); s.scrollTop = 0;
      const times = []; let last = performance.now(); const end = last + 3000;
      const step = (now) => { times.push(now - last); last = now; s.scrollTop += 600;
        if (now < end) requestAnimationFrame(step); else resolve(times); };
      requestAnimationFrame(step);
    })`)) as number[];
    times.sort((a, b) => a - b);
    const q = (p: number) => times[Math.floor(p * (times.length - 1))]!;
    return { p50: q(0.5), p95: q(0.95), fps: times.length / 3 };
  };

  await page.setContent(
    `<div id="plain" style="height:900px;overflow:auto"><div style="height:10000000px;background:linear-gradient(#fff,#ddd)"></div></div>`,
  );
  const baseline = await frames('#plain');

  await page.goto(server.url);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', env.SKYVAULT_ADMIN_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('.tile');
  started = Date.now();
  // Scroll to the end until BENCH_LOADED files are in the grid (the page asks for 200 at a time).
  const tilesLoaded = () =>
    page.evaluate(
      `(() => { const s = document.querySelector('.grid-scroller'); s.scrollTop = s.scrollHeight;
        return document.querySelector('.grid-canvas').getBoundingClientRect().height; })()`,
    ) as Promise<number>;
  const rowHeight = await page.evaluate(`document.querySelector('.tile').getBoundingClientRect().height + 8`);
  const columns = await page.evaluate(
    `getComputedStyle(document.querySelector('.tiles-row')).gridTemplateColumns.split(' ').length`,
  );
  while ((await tilesLoaded()) < (loaded / (columns as number)) * (rowHeight as number)) {
    await page.waitForTimeout(50);
  }
  const loadSeconds = (Date.now() - started) / 1000;
  const dom = (await page.evaluate(
    `({ tiles: document.querySelectorAll('.tile').length, elements: document.getElementsByTagName('*').length,
        heapMb: Math.round(performance.memory.usedJSHeapSize / 1e6) })`,
  )) as { tiles: number; elements: number; heapMb: number };
  const grid = await frames('.grid-scroller');

  const f = (n: number) => n.toFixed(1);
  console.log(
    `# ${loaded.toLocaleString('en')} of ${files.toLocaleString('en')} files loaded by scrolling in ${f(loadSeconds)} s`,
  );
  console.log(`# DOM: ${dom.tiles} tiles, ${dom.elements} elements; JS heap ${dom.heapMb} MB`);
  console.log('| scrolling 600 px a frame | frame p50 ms | frame p95 ms | frames/s |');
  console.log('|---|---|---|---|');
  console.log(`| plain page (baseline) | ${f(baseline.p50)} | ${f(baseline.p95)} | ${f(baseline.fps)} |`);
  console.log(
    `| library grid | ${f(grid.p50)} (${f(grid.p50 / baseline.p50)}×) | ${f(grid.p95)} (${f(grid.p95 / baseline.p95)}×) | ${f(grid.fps)} |`,
  );
  const plain = (what: string, value: number) => ({ name: `plain page ${what}`, value });
  recordFigures(`web-grid, ${loaded} of ${files} files loaded, Chromium 1440×900`, [
    { name: `seconds to load ${loaded} files by scrolling`, value: loadSeconds, unit: 's', better: 'lower' },
    { name: 'tiles in the DOM', value: dom.tiles, unit: 'tiles' },
    { name: 'elements in the DOM', value: dom.elements, unit: 'elements' },
    { name: 'JS heap', value: dom.heapMb, unit: 'MB' },
    compared('frame p50 while scrolling', grid.p50, 'ms', plain('frame p50', baseline.p50), 'lower'),
    compared('frame p95 while scrolling', grid.p95, 'ms', plain('frame p95', baseline.p95), 'lower'),
    compared(
      'frames per second while scrolling',
      grid.fps,
      'frames/s',
      plain('frames/s', baseline.fps),
      'higher',
    ),
  ]);
} finally {
  await browser.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
