#!/usr/bin/env node
// `npm run bench -- <name>`: runs bench/<name>.ts (through tsx). Benchmarks are not tests; see bench/README.md.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const names = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('-server.ts'))
  .map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !names.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${names.join('|')}>\n`);
  process.exit(2);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', new URL(`./${name}.ts`, import.meta.url).pathname],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
