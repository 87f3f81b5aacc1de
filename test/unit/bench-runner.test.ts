/**
 * The benchmark runner (bench/run-lib.ts, issue 15 item 4) and `skyvault bench`'s refusals, without
 * running a benchmark: its arguments, the environment a benchmark gets (no SKYVAULT_*, quick settings
 * under the user's), the dependencies it checks, and the summary it writes. The real runs are in
 * test/e2e/bench.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { build } from 'esbuild';
import {
  BENCH_DIR,
  BENCHMARKS,
  benchmarkEnv,
  benchmarkFiles,
  clock,
  formatNumber,
  formatRatio,
  markdownSummary,
  missingPackages,
  parseRunArgs,
  readScenarios,
  type Report,
  ROOT,
  UsageError,
} from '../../bench/run-lib.ts';
import { bench } from '../../src/bench-cli.ts';
import { testDir } from '../helpers/test-app.ts';

const names = (argv: string[]) => parseRunArgs(argv, {}).selected.map((b) => b.name);

describe('the benchmark runner', () => {
  it('runs every benchmark without a name, and only those named by NAME, a list or --only', () => {
    assert.deepEqual(
      names([]),
      BENCHMARKS.map((b) => b.name),
    );
    assert.deepEqual(names(['library']), ['library']);
    assert.deepEqual(names(['--only', 'web-grid,startup']), ['startup', 'web-grid']);
    assert.deepEqual(names(['--only=library', '--only', 'startup', '--quick']), ['startup', 'library']);
    const options = parseRunArgs(['--quick', '--results', 'out', 'startup'], {});
    assert.equal(options.quick, true);
    assert.equal(options.results, path.resolve('out'));
    assert.equal(options.timeoutSeconds, 300);
    assert.equal(parseRunArgs([], {}).timeoutSeconds, undefined);
    assert.equal(parseRunArgs([], { BENCH_RESULTS_DIR: '/tmp/r' }).results, '/tmp/r');
    assert.equal(parseRunArgs([], {}).results, path.join(BENCH_DIR, 'results'));
  });

  it('refuses unknown names and options with a sentence', () => {
    assert.throws(() => parseRunArgs(['helpers'], {}), /no benchmark named "helpers"/);
    assert.throws(() => parseRunArgs(['--fast'], {}), UsageError);
    assert.throws(() => parseRunArgs(['--only'], {}), /--only needs a value/);
    assert.throws(() => parseRunArgs(['--timeout', '0'], {}), /--timeout must be a whole number/);
  });

  it('knows every benchmark in bench/, and each one names the development dependencies it imports', async () => {
    assert.deepEqual(BENCHMARKS.map((b) => b.name).sort(), benchmarkFiles());
    const { devDependencies } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const result = await build({
      entryPoints: BENCHMARKS.map((b) => path.join(BENCH_DIR, `${b.name}.ts`)),
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      write: false,
      metafile: true,
      absWorkingDir: ROOT,
      outdir: path.join(ROOT, '.tmp', 'bench-deps'),
      logLevel: 'silent',
    });
    const inputs = result.metafile.inputs;
    for (const benchmark of BENCHMARKS) {
      const seen = new Set<string>();
      const packages = new Set<string>();
      const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        for (const { path: imported, external } of inputs[file]?.imports ?? []) {
          if (!external) visit(imported);
          else if (!imported.startsWith('node:')) {
            const parts = imported.split('/');
            const name = imported.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
            if (name in devDependencies) packages.add(name);
          }
        }
      };
      visit(path.relative(ROOT, path.join(BENCH_DIR, `${benchmark.name}.ts`)));
      assert.deepEqual([...benchmark.needs].sort(), [...packages].sort(), benchmark.name);
    }
  });

  it("gives a benchmark no SKYVAULT_* setting, the quick settings under the user's, and the results file", () => {
    const library = BENCHMARKS.find((b) => b.name === 'library')!;
    const parent = {
      PATH: '/usr/bin',
      SKYVAULT_DATA_DIR: '/srv/skyvault',
      SKYVAULT_DATABASE_URL: 'postgres://prod/skyvault',
      SKYVAULT_TEST_CHROMIUM: '/opt/chromium',
      BENCH_RUNS: '3',
    };
    const { env, applied } = benchmarkEnv(library, true, parent, '/tmp/library.jsonl');
    assert.deepEqual(env, {
      PATH: '/usr/bin',
      SKYVAULT_TEST_CHROMIUM: '/opt/chromium',
      BENCH_RUNS: '3',
      BENCH_FILES: library.quick.BENCH_FILES,
      BENCH_RESULTS_FILE: '/tmp/library.jsonl',
    });
    assert.deepEqual(applied, { BENCH_FILES: library.quick.BENCH_FILES });
    const full = benchmarkEnv(library, false, parent, '/tmp/library.jsonl');
    assert.equal(full.env.BENCH_FILES, undefined);
    assert.deepEqual(full.applied, {});
  });

  it('finds packages as Node would, and names those missing', (t) => {
    const root = testDir(t, 'skyvault-bench-deps-');
    mkdirSync(path.join(root, 'app'), { recursive: true });
    mkdirSync(path.join(root, 'node_modules', 'tsx'), { recursive: true });
    writeFileSync(path.join(root, 'node_modules', 'tsx', 'package.json'), '{}');
    mkdirSync(path.join(root, 'app', 'node_modules', '@scope', 'lib'), { recursive: true });
    writeFileSync(path.join(root, 'app', 'node_modules', '@scope', 'lib', 'package.json'), '{}');
    assert.deepEqual(missingPackages(['tsx', '@scope/lib', 'autocannon'], path.join(root, 'app')), [
      'autocannon',
    ]);
    assert.deepEqual(missingPackages(['tsx', 'autocannon', 'minio', 'playwright-core']), []);
  });

  it('reads the figures the benchmarks recorded, and writes a table per benchmark', (t) => {
    const dir = testDir(t, 'skyvault-bench-summary-');
    const file = path.join(dir, 'pilot-api.figures.jsonl');
    const scenario = {
      scenario: 'pilot-api, SQLite',
      at: '2026-11-29T10:00:00.000Z',
      load: [1.234, 1],
      figures: [
        {
          name: 'fast-upload',
          value: 5628,
          unit: 'req/s',
          baseline: { name: 'bare node:http', value: 27600 },
          ratio: 0.2039,
          better: 'higher',
          goal: { limit: 0.4, met: false },
        },
        { name: 'p50 | goal', value: 58.25, unit: 'ms', better: 'lower', goal: { limit: 100, met: true } },
      ],
    };
    writeFileSync(file, `${JSON.stringify(scenario)}\nnot json\n`);
    const scenarios = readScenarios(file);
    assert.equal(scenarios.length, 1);
    const report: Report = {
      machine: { cpus: { model: 'Test CPU', count: 2 }, memoryGiB: 4, os: 'Linux', node: 'v20.19.0' },
      started: '2026-11-29T10:00:00.000Z',
      finished: '2026-11-29T10:03:55.000Z',
      quick: true,
      git: { commit: '0123456789abcdef', modified: true },
      benchmarks: [
        {
          name: 'pilot-api',
          status: 'ok',
          exitCode: 0,
          seconds: 42,
          log: 'pilot-api.log',
          settings: { BENCH_SECONDS: '2' },
          scenarios,
        },
        {
          name: 'dock-events',
          status: 'failed',
          exitCode: 1,
          seconds: 61,
          log: 'dock-events.log',
          scenarios: [],
        },
        { name: 'web-grid', status: 'skipped', reason: 'no chromium', seconds: 0, scenarios: [] },
      ],
    };
    const markdown = markdownSummary(report);
    assert.match(markdown, /^# Benchmarks \(quick\), 2026-11-29 10:00 UTC/);
    assert.match(
      markdown,
      /1 ok, 1 failed, 1 skipped in 3:55\. 2 × Test CPU, 4 GiB, Linux, Node v20\.19\.0; commit 0123456789 with local changes/,
    );
    assert.match(markdown, /\| pilot-api \| ok \| 0:42 \| 2 \|/);
    assert.match(markdown, /\| dock-events \| failed \(exit code 1\) \| 1:01 \| 0 \|/);
    assert.match(markdown, /\| web-grid \| skipped: no chromium \| – \| – \|/);
    assert.match(markdown, /Settings: BENCH_SECONDS=2/);
    assert.match(
      markdown,
      /\| fast-upload \| 5,628 \| req\/s \| bare node:http: 27,600 \| 0\.20 \(↑ better\) \| ≥ 0\.40 \(ratio\): \*\*not met\*\* \| 1\.23 \|/,
    );
    assert.match(markdown, /\| p50 \\\| goal \| 58\.3 \| ms \| – \| – \| ≤ 100: met \| 1\.23 \|/);
    assert.match(markdown, /No figures recorded: see dock-events\.log\./);
    assert.doesNotMatch(markdown, /## web-grid/);
  });

  it('prints times and numbers as a person reads them', () => {
    assert.deepEqual([clock(0), clock(42.4), clock(245), clock(3725)], ['0:00', '0:42', '4:05', '1:02:05']);
    const values = [27600.4, 245.2, 58.25, 0.612, 0.0312, 0, 3, Number.NaN, undefined];
    assert.deepEqual(values.map(formatNumber), [
      '27,600',
      '245',
      '58.3',
      '0.61',
      '0.031',
      '0',
      '3',
      '–',
      '–',
    ]);
    const ratios = [316.2, 31.62, 1, 0.2039, 0.0382, Number.NaN];
    assert.deepEqual(ratios.map(formatRatio), ['316', '31.6', '1.00', '0.20', '0.038', '–']);
  });
});

describe('skyvault bench refuses', () => {
  const run = async (args: string[], root?: string) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await bench(args, {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
      env: {},
      ...(root ? { root } : {}),
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('an installation without bench/, in one sentence, with exit code 2', async (t) => {
    const root = testDir(t, 'skyvault-installed-');
    writeFileSync(path.join(root, 'package.json'), '{}');
    const { code, err, out } = await run(['--quick'], root);
    assert.equal(code, 2);
    assert.match(err, /^skyvault bench: this installation has no benchmarks \(.*bench\/run\.js is missing\)/);
    assert.equal(err.split('\n').length, 1);
    assert.equal(out, '');
  });

  it('an installation without its development dependencies', async (t) => {
    const root = testDir(t, 'skyvault-installed-');
    writeFileSync(path.join(root, 'package.json'), '{}');
    mkdirSync(path.join(root, 'bench'));
    writeFileSync(path.join(root, 'bench', 'run.js'), '');
    const { code, err } = await run([], root);
    assert.equal(code, 2);
    assert.match(
      err,
      /^skyvault bench: the benchmarks need tsx and the development dependencies, missing from /,
    );
  });

  it('bad arguments and unknown benchmarks', async () => {
    assert.equal((await run(['--fast'])).code, 2);
    assert.match(
      (await run(['--database-url', 'mysql://x'])).err,
      /--database-url must be a postgres:\/\/ URL/,
    );
    assert.match((await run(['--only', 'startup,nope'])).err, /no benchmark named "nope"/);
  });
});
