#!/usr/bin/env node
// Runs every test/**/*.test.ts file with Node's test runner through tsx. Node 20's `--test` does not
// expand globs itself, hence this small script. Extra arguments are passed on (e.g. a file list).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return findTests(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const args = process.argv.slice(2);
const files = args.some((a) => a.endsWith('.ts')) ? [] : findTests('test').sort();
// Test files mostly wait on I/O (databases, sockets, child processes): run more than one per core.
const concurrency = process.env.SKYVAULT_TEST_CONCURRENCY ?? String(Math.max(2, availableParallelism() * 2));
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-timeout=120000',
    ...args,
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
