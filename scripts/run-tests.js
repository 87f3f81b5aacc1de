#!/usr/bin/env node
// Runs the test suites with Node's test runner through tsx (Node 20's `--test` does not expand globs
// itself, hence this small script), one tier at a time:
//
//   node scripts/run-tests.js [unit|integration|e2e|all] [test files…] [node --test options…]
//
//   unit         test/unit: pure code, no sockets, no child processes (enforced by unit-guard.js)
//   integration  test/integration and test/storage: real databases, HTTP, MQTT, object storage
//   e2e          test/e2e: the real `skyvault` command in child processes
//   all          the three, one after the other (the default; what `npm test` runs)
//
// Test files given on the command line run in the tier their folder belongs to. Other arguments
// (e.g. --test-name-pattern=…, --test-reporter=tap) are passed on to `node --test`.
// SKYVAULT_TEST_CONCURRENCY overrides how many test files of a tier run at once.
// After each tier it prints how long each of its files took (duration_ms), slowest first.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const cores = availableParallelism();

const TIERS = {
  // CPU-bound and quick: one file per core; a test that takes 30 s is a bug.
  unit: { dirs: ['test/unit'], concurrency: cores, timeoutMs: 30_000, guard: true },
  // Mostly waiting on I/O (databases, sockets): more than one file per core.
  integration: { dirs: ['test/integration', 'test/storage'], concurrency: cores * 2, timeoutMs: 120_000 },
  // Each file starts several `skyvault` processes of its own, concurrently: one file per core.
  e2e: { dirs: ['test/e2e'], concurrency: cores, timeoutMs: 180_000 },
};

const args = process.argv.slice(2);
const tierArgs = args.filter((a) => a === 'all' || a in TIERS);
const fileArgs = args.filter((a) => a.endsWith('.ts') && !a.startsWith('-'));
const passOn = args.filter((a) => !tierArgs.includes(a) && !fileArgs.includes(a));
const unknown = passOn.find((a) => !a.startsWith('-'));
if (unknown) {
  process.stderr.write(
    `run-tests: unknown tier or argument "${unknown}" (tiers: unit, integration, e2e, all)\n`,
  );
  process.exit(2);
}

function findTests(dir) {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return findTests(rel);
    return entry.name.endsWith('.test.ts') ? [rel] : [];
  });
}

function tierOf(file) {
  const rel = path.relative(root, path.resolve(file));
  const tier = Object.keys(TIERS).find((name) =>
    TIERS[name].dirs.some((dir) => rel === dir || rel.startsWith(`${dir}${path.sep}`)),
  );
  if (!tier) {
    process.stderr.write(
      `run-tests: ${file} is in no test tier (${Object.values(TIERS)
        .flatMap((t) => t.dirs)
        .join(', ')})\n`,
    );
    process.exit(2);
  }
  return tier;
}

/** [tier, files] to run, in order. */
let plan;
if (fileArgs.length > 0) {
  const byTier = new Map();
  for (const file of fileArgs) byTier.set(tierOf(file), [...(byTier.get(tierOf(file)) ?? []), file]);
  plan = Object.keys(TIERS)
    .filter((tier) => byTier.has(tier))
    .map((tier) => [tier, byTier.get(tier)]);
} else {
  const wanted = tierArgs.length === 0 || tierArgs.includes('all') ? Object.keys(TIERS) : tierArgs;
  plan = Object.keys(TIERS)
    .filter((tier) => wanted.includes(tier))
    .map((tier) => [tier, TIERS[tier].dirs.flatMap(findTests).sort()]);
}

// Our reporter (per-file durations) needs the default one named too; keep a reporter given on the
// command line instead.
const reporters = passOn.some((a) => a.startsWith('--test-reporter'))
  ? []
  : [
      `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
      '--test-reporter-destination=stdout',
      `--test-reporter=${path.join(here, 'test-file-durations.js')}`,
      '--test-reporter-destination=stdout',
    ];

const summaryDir = mkdtempSync(path.join(tmpdir(), 'skyvault-test-summary-'));
const results = [];
const total = { pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
let counted = false;
for (const [tier, files] of plan) {
  const { concurrency, timeoutMs, guard } = TIERS[tier];
  if (files.length === 0) {
    results.push(`${tier}: no test files`);
    continue;
  }
  process.stdout.write(`\n# ${tier} tests on Node ${process.version}: ${files.length} file(s)\n`);
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      ...(guard ? ['--import', path.join(here, 'unit-guard.js')] : []),
      '--test',
      `--test-concurrency=${process.env.SKYVAULT_TEST_CONCURRENCY ?? concurrency}`,
      `--test-timeout=${timeoutMs}`,
      ...reporters,
      ...passOn,
      ...files,
    ],
    {
      stdio: 'inherit',
      cwd: root,
      env: { ...process.env, SKYVAULT_TEST_SUMMARY_FILE: path.join(summaryDir, `${tier}.json`) },
    },
  );
  try {
    const counts = JSON.parse(readFileSync(path.join(summaryDir, `${tier}.json`), 'utf8'));
    for (const key of Object.keys(total)) total[key] += counts[key] ?? 0;
    counted = true;
  } catch {
    // No summary (the runner itself failed, or another reporter was chosen): the exit code still counts.
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const ok = result.status === 0;
  results.push(
    `${tier}: ${ok ? 'passed' : `FAILED (exit ${result.status ?? result.signal})`} in ${seconds} s`,
  );
  if (!ok) process.exitCode = 1;
}
rmSync(summaryDir, { recursive: true, force: true });
process.stdout.write(`\n# ${results.join('; ')}\n`);
// One closing line for the whole run (cancelled tests count as failed).
if (counted)
  process.stdout.write(
    `Tests: ${total.pass} passed, ${total.fail + total.cancelled} failed, ${total.skipped + total.todo} skipped\n`,
  );
