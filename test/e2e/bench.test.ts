/**
 * `skyvault bench` (issue 15, item 4): an operator runs the benchmarks with their own settings in the
 * environment, and neither their data directory nor their database is touched (a database URL that
 * cannot be reached would make the benchmark's server fail to start); the runner writes latest.json
 * and latest.md with the figures the benchmark recorded. The cheapest benchmark (startup) in its
 * smallest size, to stay cheap.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Report } from '../../bench/run-lib.ts';
import { runCli } from '../helpers/cli.ts';
import { testDir } from '../helpers/test-app.ts';

/** Names, sizes and modification times under `dir`. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const s = statSync(path.join(dir, name));
      return `${name} ${s.size} ${s.mtimeMs}`;
    });
}

describe('skyvault bench', () => {
  it("runs a benchmark on temporary data, never the operator's, and writes its figures", async (t) => {
    const operatorData = testDir(t, 'skyvault-operator-');
    writeFileSync(path.join(operatorData, 'skyvault.db'), 'the operator database');
    const before = tree(operatorData);
    const results = testDir(t, 'skyvault-bench-results-');
    const cli = runCli(['bench', '--quick', '--only', 'startup', '--results', results], {
      SKYVAULT_DATA_DIR: operatorData,
      SKYVAULT_DATABASE_URL: 'postgres://operator@127.0.0.1:1/production',
      SKYVAULT_HTTP_PORT: '1',
      // One run of the bare server and the bundle, RSS read soon after: a few seconds.
      BENCH_RUNS: '1',
      BENCH_IDLE_MS: '200',
      BENCH_VARIANTS: 'bare,bundle',
    });
    t.after(() => cli.stop('SIGKILL'));
    const code = await cli.exited();
    assert.equal(code, 0, `${cli.stdout()}\n${cli.stderr()}`);
    assert.deepEqual(tree(operatorData), before);

    const report = JSON.parse(readFileSync(path.join(results, 'latest.json'), 'utf8')) as Report;
    assert.equal(report.quick, true);
    assert.ok(report.machine.cpus.count > 0 && report.machine.node.startsWith('v'));
    assert.equal(report.benchmarks.length, 1);
    const [startup] = report.benchmarks;
    assert.equal(startup!.name, 'startup');
    assert.equal(startup!.status, 'ok');
    assert.equal(startup!.log, 'startup.log');
    // BENCH_RUNS set by the operator wins over the quick table.
    assert.deepEqual(startup!.settings, {});
    const figures = startup!.scenarios.flatMap((s) => s.figures);
    const ready = figures.find((f) => f.name.startsWith('ms to ready, bundle') && f.baseline);
    assert.ok(ready && ready.value > 0 && ready.baseline!.name === 'bare node:http', JSON.stringify(figures));
    assert.ok(figures.some((f) => f.goal && f.unit === 'MB'));
    const markdown = readFileSync(path.join(results, 'latest.md'), 'utf8');
    assert.match(markdown, /\| startup \| ok \|/);
    assert.ok(cli.stdout().includes(markdown.trim()), 'the summary is printed');
    assert.match(readFileSync(path.join(results, 'startup.log'), 'utf8'), /\| bare node:http \|/);
  });
});
