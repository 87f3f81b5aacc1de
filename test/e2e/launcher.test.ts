/**
 * bin/skyvault.js runs the bundle `npm ci` builds (scripts/build-server.js) when it is current, and the
 * TypeScript sources through tsx when a source file is newer than the bundle's stamp, when there is no
 * bundle, or with SKYVAULT_FROM_SOURCE=1: a developer's edit is never hidden behind a stale bundle. The
 * launcher runs here in a package of its own whose bundle and sources each say which one ran; the real
 * bundle is then built and run.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/test-app.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The newest modification time (ms) of the files under `dir`, as the bundle's stamp records it. */
function newestMtime(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => statSync(path.join(entry.parentPath, entry.name)).mtimeMs),
  );
}

describe('the skyvault launcher', () => {
  let pkg: string;
  const run = (env: Record<string, string> = {}) =>
    execFileSync(process.execPath, [path.join(pkg, 'bin', 'skyvault.js'), 'anything'], {
      env: { ...process.env, SKYVAULT_FROM_SOURCE: '', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    }).trim();
  const stamp = () =>
    writeFileSync(
      path.join(pkg, 'dist', 'server', 'build.json'),
      JSON.stringify({ sourcesAt: newestMtime(path.join(pkg, 'src')) }),
    );

  before(() => {
    pkg = tempDir('skyvault-launcher-');
    for (const dir of ['bin', 'scripts', 'src', 'dist/server'])
      mkdirSync(path.join(pkg, dir), { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'skyvault', type: 'module' }));
    copyFileSync(path.join(ROOT, 'bin', 'skyvault.js'), path.join(pkg, 'bin', 'skyvault.js'));
    copyFileSync(path.join(ROOT, 'scripts', 'source-stamp.js'), path.join(pkg, 'scripts', 'source-stamp.js'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    writeFileSync(
      path.join(pkg, 'src', 'cli.ts'),
      "export async function main(args: string[]): Promise<number> { console.log('sources', ...args); return 0; }\n",
    );
    writeFileSync(
      path.join(pkg, 'dist', 'server', 'skyvault.mjs'),
      "export async function main(args) { console.log('bundle', ...args); return 0; }\n",
    );
  });
  after(() => rmSync(pkg, { recursive: true, force: true }));

  it('runs the sources while there is no bundle stamp', () => {
    assert.equal(run(), 'sources anything');
  });

  it('runs the bundle when it is current, unless SKYVAULT_FROM_SOURCE=1', () => {
    stamp();
    assert.equal(run(), 'bundle anything');
    assert.equal(run({ SKYVAULT_FROM_SOURCE: '1' }), 'sources anything');
  });

  it('runs the sources once a source file is newer than the bundle', () => {
    stamp();
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(pkg, 'src', 'cli.ts'), later, later);
    assert.equal(run(), 'sources anything');
    stamp();
    assert.equal(run(), 'bundle anything');
  });

  it('has a current bundle in CI, so that every test of a real `skyvault` process runs it', (t) => {
    if (!process.env.CI) return t.skip('outside CI, a checkout being edited may run its sources');
    const { sourcesAt } = JSON.parse(readFileSync(path.join(ROOT, 'dist', 'server', 'build.json'), 'utf8'));
    assert.ok(newestMtime(path.join(ROOT, 'src')) <= sourcesAt, 'npm ci (prepare) built dist/server');
  });

  it('builds the real bundle, which answers as the sources do', () => {
    // Inside the package, as dist/server is: the bundle finds package.json and node_modules from there.
    const out = path.join(ROOT, '.tmp', `build-test-${process.pid}`);
    try {
      const built = execFileSync(
        process.execPath,
        [path.join(ROOT, 'scripts', 'build-server.js'), '--outdir', out],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      assert.match(built, /^Built .*skyvault\.mjs from src\/ in \d+ ms\.$/m);
      // `--version`, and `storage` without an action: its usage, from a chunk loaded on demand.
      const answers = (entry: string) =>
        spawnSync(
          process.execPath,
          [
            ...(entry.endsWith('.ts') ? ['--import', 'tsx'] : []),
            '--input-type=module',
            '-e',
            `const { main } = await import(${JSON.stringify(entry)});
             process.exitCode = (await main(['--version'])) || (await main(['storage']));`,
          ],
          { encoding: 'utf8', timeout: 60_000 },
        );
      const bundle = answers(path.join(out, 'skyvault.mjs'));
      const sources = answers(path.join(ROOT, 'src', 'cli.ts'));
      assert.equal(bundle.status, 2, bundle.stderr);
      assert.match(bundle.stderr, /storage needs an action/);
      assert.deepEqual(
        [bundle.stdout, bundle.stderr, bundle.status],
        [sources.stdout, sources.stderr, sources.status],
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
