/**
 * `skyvault bench`: the benchmarks (bench/README.md) for an operator, through the same runner as
 * `npm run bench` (bench/run.js, in its own process). Never on the operator's data: the runner gets
 * this process's environment without any SKYVAULT_* setting, every temporary file (data directories,
 * SQLite databases, objects) goes into a temporary directory removed at the end, and with
 * `--database-url` each benchmark that supports PostgreSQL creates a fresh database on that server and
 * drops it (BENCH_DATABASE_URL, bench/helpers.ts). The benchmarks ship with the sources, not with an
 * install without development dependencies: then it refuses with one sentence (exit code 2), as for
 * bad arguments. This module loads only Node's own modules, so the CLI's help imports it as it is.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { CommandIo } from './cli-output.ts';
import { packagePath } from './shared/package-root.ts';

/** The usage lines of `skyvault bench` (the CLI's help prints them too). */
export const BENCH_USAGE = `  bench [--quick] [--only NAME[,NAME…]] [--database-url postgres://…] [--results DIR]
                          run the benchmarks (bench/README.md) on a temporary directory, never on
                          this Skyvault's data: no SKYVAULT_* setting is used; --database-url: each
                          one that supports PostgreSQL creates a fresh database on that server and
                          drops it; --quick: small sizes, about 4 minutes; figures in
                          bench/results/latest.md (or DIR); needs an install with dev dependencies
`;

/** Settings that are not an operator's data: where the browser for `web-grid` is. */
const KEPT = new Set(['SKYVAULT_TEST_CHROMIUM']);

export interface BenchIo extends CommandIo {
  /** The package whose bench/ runs (tests point it elsewhere); the installed one by default. */
  root?: string;
}

export async function bench(args: string[], io: BenchIo): Promise<number> {
  const root = io.root ?? packagePath();
  let values: { quick?: boolean; only?: string[]; 'database-url'?: string; results?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string', multiple: true },
        'database-url': { type: 'string' },
        results: { type: 'string' },
      },
    }));
    const url = values['database-url'];
    if (url !== undefined && !/^postgres(ql)?:\/\/./.test(url))
      throw new Error(`--database-url must be a postgres:// URL, not "${url}"`);
  } catch (error) {
    io.err(`${(error as Error).message}\n\nUsage:\n${BENCH_USAGE}`);
    return 2;
  }

  const runner = path.join(root, 'bench', 'run.js');
  if (!existsSync(runner)) {
    io.err(
      `skyvault bench: this installation has no benchmarks (${runner} is missing): they come with the sources; run it from a checkout of the repository installed with \`npm ci\`.`,
    );
    return 2;
  }
  const only = (values.only ?? []).flatMap((list) => list.split(',')).filter(Boolean);
  const unknown = only.filter((name) => !existsSync(path.join(root, 'bench', `${name}.ts`)));
  if (unknown.length > 0) {
    io.err(
      `skyvault bench: no benchmark named ${unknown.map((n) => `"${n}"`).join(', ')} (see bench/README.md).`,
    );
    return 2;
  }
  const lookup = createRequire(path.join(root, 'package.json')).resolve.paths('tsx') ?? [];
  if (!lookup.some((dir) => existsSync(path.join(dir, 'tsx', 'package.json')))) {
    io.err(
      `skyvault bench: the benchmarks need tsx and the development dependencies, missing from ${root}: run \`npm ci\` there first.`,
    );
    return 2;
  }

  // Everything the benchmarks write goes in here (os.tmpdir() reads TMPDIR), removed at the end.
  const work = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-'));
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(io.env ?? process.env)) {
    if (!name.startsWith('SKYVAULT_') || KEPT.has(name)) env[name] = value;
  }
  env.TMPDIR = work;
  if (values['database-url']) env.BENCH_DATABASE_URL = values['database-url'];
  const runnerArgs = [
    ...(values.quick ? ['--quick'] : []),
    ...(only.length > 0 ? ['--only', only.join(',')] : []),
    ...(values.results ? ['--results', path.resolve(values.results)] : []),
  ];
  io.out(
    `Benchmarks in ${work} (removed at the end)${values['database-url'] ? ', fresh databases on the --database-url server' : ', SQLite'}; no SKYVAULT_* setting is used.`,
  );
  const child = spawn(process.execPath, [runner, ...runnerArgs], { cwd: root, env, stdio: 'inherit' });
  // Ctrl-C reaches the runner too (same terminal); a SIGTERM to this process is passed on. The runner
  // stops the benchmark running, writes what it has and exits; this process waits for it.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c, s) => resolve([c, s]));
    });
    return code ?? (signal ? 1 : 0);
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    rmSync(work, { recursive: true, force: true });
  }
}
