/**
 * The benchmark runner (bench/run.js loads this through tsx): runs the benchmarks one after another,
 * each in its own `node --import tsx bench/<name>.ts` with its full output kept in
 * `<results>/<name>.log`, collects the figures each one hands over through bench/report.ts
 * (`recordFigures`, one JSON line each, into the file BENCH_RESULTS_FILE names), and writes
 * `<results>/latest.json` and `<results>/latest.md`, whose summary it prints at the end.
 *
 *   npm run bench                         every benchmark, full size
 *   npm run bench -- --quick              every benchmark, small sizes (BENCHMARKS below): under 4 minutes
 *   npm run bench -- NAME[,NAME…]         those only (the same as --only NAME[,NAME…])
 *
 * A failing benchmark does not stop the others; the exit code is 1 when one failed, 2 for bad
 * arguments or missing development dependencies. `skyvault bench` (src/bench-cli.ts) runs this same
 * runner for an operator, on a temporary directory. Benchmarks get this process's environment without
 * SKYVAULT_* (bench/helpers.ts strips them from every server it starts too), so no benchmark touches
 * an operator's data directory or database.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Figure } from './report.ts';

export const BENCH_DIR = import.meta.dirname;
export const ROOT = path.resolve(BENCH_DIR, '..');

/** One benchmark as the runner knows it. */
export interface Benchmark {
  name: string;
  /** The settings of a `--quick` run (BENCH_* knobs, see the benchmark's header comment). */
  quick: Record<string, string>;
  /** Development dependencies it imports (through bench/helpers.ts and test/helpers too). */
  needs: string[];
  /** Why it cannot run on this machine (a program missing), or undefined. */
  unavailable?: (env: NodeJS.ProcessEnv) => string | undefined;
}

/** Where Chromium is (test/helpers/browser.ts reads the same variable). */
export function chromiumPath(env: NodeJS.ProcessEnv): string {
  return env.SKYVAULT_TEST_CHROMIUM ?? '/usr/bin/chromium';
}

/** Whether `program` is on the PATH of `env`. */
function onPath(program: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(path.join(dir, program), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

const needsCurl = (env: NodeJS.ProcessEnv) => (onPath('curl', env) ? undefined : 'no curl');

/**
 * Every benchmark, in the order a full run takes them (the cheap ones first), with the settings of a
 * quick run: together 3 min 13 s on a quiet 2-core machine (2026-11-29; pilot-api a third of it), 5 to 8
 * minutes when other work loads it. Settings the user sets in the environment win over these.
 * Benchmarks that are not in this list are not run (test/unit/bench-runner.test.ts checks that every
 * bench/*.ts is either here or a module).
 */
export const BENCHMARKS: Benchmark[] = [
  { name: 'startup', quick: { BENCH_RUNS: '2' }, needs: [] },
  {
    name: 'pilot-api',
    quick: { BENCH_SECONDS: '2', BENCH_NEW_FILES: '500' },
    needs: ['autocannon', 'minio'],
  },
  {
    name: 'storage-put',
    quick: { BENCH_SIZE_MB: '128', BENCH_RUNS: '1' },
    needs: ['minio'],
    unavailable: (env) => (/curl/.test(env.BENCH_MODES ?? 'curl') ? needsCurl(env) : undefined),
  },
  { name: 'storage-multipart', quick: { BENCH_PARTS: '500' }, needs: ['minio'] },
  { name: 'tiny-fingerprints', quick: { BENCH_FILES: '50000', BENCH_RUNS: '10' }, needs: ['minio'] },
  { name: 'library', quick: { BENCH_FILES: '20000', BENCH_RUNS: '5' }, needs: ['minio'] },
  {
    name: 'library-zip',
    quick: { BENCH_FILES: '8', BENCH_FILE_MB: '10', BENCH_SMALL_FILES: '8', BENCH_RUNS: '1' },
    needs: ['minio'],
    unavailable: (env) => (env.BENCH_CLIENT === 'node' ? undefined : needsCurl(env)),
  },
  { name: 'dock-events', quick: { BENCH_DOCKS: '100', BENCH_BASELINE_RUNS: '2' }, needs: ['minio'] },
  { name: 'log-progress', quick: { BENCH_DOCKS: '100', BENCH_BASELINE_RUNS: '2' }, needs: ['minio'] },
  { name: 'login-flood', quick: { BENCH_SECONDS: '2' }, needs: ['minio'] },
  {
    name: 'web-grid',
    quick: { BENCH_FILES: '5000', BENCH_LOADED: '1000' },
    needs: ['minio', 'playwright-core'],
    unavailable: (env) => (existsSync(chromiumPath(env)) ? undefined : 'no chromium'),
  },
];

/** The files of bench/ that are modules or helper processes, not benchmarks. */
export const NOT_BENCHMARKS = ['helpers', 'report', 'mqtt-flood', 'server-profile', 'start-measure'];

/** `text` in lines of at most `width` characters, each indented by `indent` spaces. */
function wrap(text: string, indent: number, width: number): string {
  const lines = [''];
  for (const word of text.split(' ')) {
    if (lines.at(-1)!.length > 0 && indent + lines.at(-1)!.length + 1 + word.length > width) lines.push('');
    lines[lines.length - 1] = lines.at(-1) ? `${lines.at(-1)} ${word}` : word;
  }
  return lines.map((line) => `${' '.repeat(indent)}${line}`).join('\n');
}

export const USAGE = `usage: npm run bench -- [NAME[,NAME…]] [--only NAME[,NAME…]] [--quick] [--results DIR]
                      [--timeout SECONDS] [--verbose] [--list]
  (no name)        every benchmark, one after another:
${wrap(BENCHMARKS.map((b) => b.name).join(', '), 19, 102)}
  --only NAMES     those benchmarks only (a NAME alone means the same)
  --quick          small sizes (--list shows them), about 4 minutes for all; BENCH_* set in the
                   environment win
  --results DIR    where latest.json, latest.md and each <name>.log go (default bench/results, or
                   BENCH_RESULTS_DIR)
  --timeout S      stop a benchmark after S seconds and count it failed (default: 300 with --quick,
                   none otherwise)
  --verbose        print every benchmark's output as it runs (the default with one benchmark)
  --list           print the benchmarks and their quick settings
`;

export class UsageError extends Error {}

export interface RunOptions {
  /** The benchmarks to run, in the runner's order. */
  selected: Benchmark[];
  quick: boolean;
  results: string;
  timeoutSeconds: number | undefined;
  verbose: boolean;
  list: boolean;
  help: boolean;
}

/** The runner's arguments; throws a UsageError for anything it does not know. */
export function parseRunArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): RunOptions {
  const names: string[] = [];
  let quick = false;
  let verbose = false;
  let list = false;
  let help = false;
  let results = env.BENCH_RESULTS_DIR || path.join(BENCH_DIR, 'results');
  let timeout: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg];
    const value = () => {
      const next = inline ?? argv[++i];
      if (next === undefined || next === '') throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--quick':
        quick = true;
        break;
      case '--verbose':
        verbose = true;
        break;
      case '--list':
        list = true;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      case '--only':
        names.push(...value().split(','));
        break;
      case '--results':
        results = value();
        break;
      case '--timeout':
        timeout = value();
        break;
      default:
        if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
        names.push(...arg.split(','));
    }
  }
  const wanted = names.map((n) => n.trim()).filter(Boolean);
  const unknown = wanted.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0)
    throw new UsageError(
      `no benchmark named ${unknown.map((n) => `"${n}"`).join(', ')} (there are: ${BENCHMARKS.map((b) => b.name).join(', ')})`,
    );
  if (timeout !== undefined && !/^[1-9]\d*$/.test(timeout))
    throw new UsageError(`--timeout must be a whole number of seconds, not "${timeout}"`);
  return {
    selected: wanted.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => wanted.includes(b.name)),
    quick,
    results: path.resolve(results),
    timeoutSeconds: timeout !== undefined ? Number(timeout) : quick ? 300 : undefined,
    verbose,
    list,
    help,
  };
}

/**
 * A benchmark's environment: the runner's, without SKYVAULT_* (but SKYVAULT_TEST_CHROMIUM, which says
 * where Chromium is), with the quick settings under whatever the user set, and where to record figures.
 */
export function benchmarkEnv(
  benchmark: Benchmark,
  quick: boolean,
  parent: NodeJS.ProcessEnv,
  resultsFile: string,
): { env: NodeJS.ProcessEnv; applied: Record<string, string> } {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(parent)) {
    if (!name.startsWith('SKYVAULT_') || name === 'SKYVAULT_TEST_CHROMIUM') env[name] = value;
  }
  const applied: Record<string, string> = {};
  if (quick) {
    for (const [name, value] of Object.entries(benchmark.quick)) {
      if (parent[name] === undefined || parent[name] === '') applied[name] = env[name] = value;
    }
  }
  env.BENCH_RESULTS_FILE = resultsFile;
  return { env, applied };
}

/**
 * The packages of `names` that Node cannot find from `fromDir` (as `import` would look: each
 * node_modules from there up).
 */
export function missingPackages(names: string[], fromDir: string = ROOT): string[] {
  const lookup = createRequire(path.join(fromDir, 'package.json')).resolve.paths('x') ?? [];
  return names.filter((name) => !lookup.some((dir) => existsSync(path.join(dir, name, 'package.json'))));
}

/** A scenario as bench/report.ts's recordFigures appends it. */
export interface Scenario {
  scenario: string;
  at: string;
  load: number[];
  figures: Figure[];
  notes?: Record<string, unknown>;
}

export interface BenchmarkResult {
  name: string;
  status: 'ok' | 'failed' | 'skipped';
  /** The exit code of a benchmark that ran (null when a signal ended it). */
  exitCode?: number | null;
  signal?: string | null;
  /** Why it was skipped, or what else went wrong (a timeout). */
  reason?: string;
  seconds: number;
  /** Its full output, relative to the results directory. */
  log?: string;
  /** The quick settings it ran with (those the environment did not set). */
  settings?: Record<string, string>;
  scenarios: Scenario[];
}

export interface Report {
  machine: {
    cpus: { model: string; count: number };
    memoryGiB: number;
    os: string;
    node: string;
  };
  started: string;
  finished: string;
  quick: boolean;
  git: { commit: string; modified: boolean } | undefined;
  benchmarks: BenchmarkResult[];
}

export function machine(): Report['machine'] {
  const cpus = os.cpus();
  return {
    cpus: { model: cpus[0]?.model.trim() ?? 'unknown', count: cpus.length },
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

/** The checkout's commit and whether tracked files differ from it; undefined outside a git checkout. */
export function gitState(cwd: string = ROOT): Report['git'] {
  const git = (...args: string[]) => spawnSync('git', args, { cwd, encoding: 'utf8', timeout: 10_000 });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0 || !head.stdout.trim()) return undefined;
  const status = git('status', '--porcelain', '--untracked-files=no');
  return { commit: head.stdout.trim(), modified: status.status === 0 && status.stdout.trim() !== '' };
}

/** 0:42, 3:05, 1:02:07. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const [h, m, r] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

/** A figure's number as a person reads it: 27,600; 245; 58.3; 0.61; 0.031; 0 (whole numbers whole). */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1000 || Number.isInteger(value)) return Math.round(value).toLocaleString('en');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 0.1) return value.toFixed(2);
  return value.toPrecision(2);
}

/** A ratio with its precision whatever its size: 31.6, 1.00, 0.20, 0.038. */
export function formatRatio(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 0.1 || abs === 0) return value.toFixed(2);
  return value.toPrecision(2);
}

function statusText(result: BenchmarkResult): string {
  if (result.status === 'skipped') return `skipped: ${result.reason ?? ''}`.trim();
  if (result.status === 'ok') return 'ok';
  const why = result.reason ?? (result.signal ? `signal ${result.signal}` : `exit code ${result.exitCode}`);
  return `failed (${why})`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function goalText(figure: Figure): string {
  if (!figure.goal) return '–';
  const sign = figure.better === 'lower' ? '≤ ' : figure.better === 'higher' ? '≥ ' : '';
  const of = figure.baseline ? ' (ratio)' : '';
  const limit = figure.baseline ? formatRatio(figure.goal.limit) : formatNumber(figure.goal.limit);
  return `${sign}${limit}${of}: ${figure.goal.met ? 'met' : '**not met**'}`;
}

/** latest.md: what ran, then a table of figures per benchmark. */
export function markdownSummary(report: Report): string {
  const counts = (status: BenchmarkResult['status']) =>
    report.benchmarks.filter((b) => b.status === status).length;
  const took = (Date.parse(report.finished) - Date.parse(report.started)) / 1000;
  const { machine: m, git } = report;
  const lines = [
    `# Benchmarks${report.quick ? ' (quick)' : ''}, ${report.started.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `${counts('ok')} ok, ${counts('failed')} failed, ${counts('skipped')} skipped in ${clock(took)}. ` +
      `${m.cpus.count} × ${m.cpus.model}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}` +
      (git ? `; commit ${git.commit.slice(0, 10)}${git.modified ? ' with local changes' : ''}` : '') +
      '.' +
      (report.quick ? ' Quick sizes: compare ratios with other quick runs only.' : ''),
    '',
    '| benchmark | status | time | figures |',
    '|---|---|---|---|',
    ...report.benchmarks.map(
      (b) =>
        `| ${b.name} | ${cell(statusText(b))} | ${b.status === 'skipped' ? '–' : clock(b.seconds)} | ` +
        `${b.status === 'skipped' ? '–' : b.scenarios.reduce((n, s) => n + s.figures.length, 0)} |`,
    ),
  ];
  for (const b of report.benchmarks) {
    if (b.status === 'skipped') continue;
    lines.push('', `## ${b.name}: ${statusText(b)}, ${clock(b.seconds)}`, '');
    const settings = Object.entries(b.settings ?? {});
    if (settings.length > 0) lines.push(`Settings: ${settings.map(([k, v]) => `${k}=${v}`).join(' ')}`, '');
    const rows = b.scenarios.flatMap((s) => s.figures.map((f) => ({ s, f })));
    if (rows.length === 0) {
      lines.push(`No figures recorded${b.log ? `: see ${b.log}` : ''}.`);
      continue;
    }
    const several = new Set(b.scenarios.map((s) => s.scenario)).size > 1;
    if (!several) lines.push(`${b.scenarios[0]!.scenario}:`, '');
    lines.push(
      `| ${several ? 'scenario | ' : ''}figure | value | unit | baseline | ratio | goal | load |`,
      `|${several ? '---|' : ''}---|---|---|---|---|---|---|`,
    );
    for (const { s, f } of rows) {
      const baseline = f.baseline ? `${f.baseline.name}: ${formatNumber(f.baseline.value)}` : '–';
      const ratio =
        f.ratio === undefined
          ? '–'
          : `${formatRatio(f.ratio)}${f.better ? ` (${f.better === 'lower' ? '↓' : '↑'} better)` : ''}`;
      lines.push(
        `| ${several ? `${cell(s.scenario)} | ` : ''}${cell(f.name)} | ${formatNumber(f.value)} | ${cell(f.unit)} | ` +
          `${cell(baseline)} | ${ratio} | ${goalText(f)} | ${formatNumber(s.load[0])} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Reads the JSON lines recordFigures appended; a line that does not parse is skipped. */
export function readScenarios(file: string): Scenario[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Scenario];
      } catch {
        return [];
      }
    });
}

/** The progress line: on a terminal one line updated in place, otherwise a line per step. */
class Progress {
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly started: number,
    private readonly total: number,
    live: boolean,
  ) {
    this.tty = live && out.isTTY === true;
  }

  private prefix(index: number, name: string) {
    return `[${index + 1}/${this.total}] ${name}`;
  }

  begin(index: number, name: string, settings: Record<string, string>) {
    const since = Date.now();
    const line = () =>
      `${this.prefix(index, name)}: running ${clock((Date.now() - since) / 1000)} (all ${clock((Date.now() - this.started) / 1000)})`;
    if (this.tty) {
      this.out.write(line());
      this.timer = setInterval(() => this.out.write(`\r\x1b[K${line()}`), 1000);
    } else {
      const knobs = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
      this.out.write(`${this.prefix(index, name)}: started${knobs.length ? ` (${knobs.join(' ')})` : ''}\n`);
    }
  }

  end(index: number, result: BenchmarkResult) {
    clearInterval(this.timer);
    if (this.tty) this.out.write('\r\x1b[K');
    const time = result.status === 'skipped' ? '' : ` in ${clock(result.seconds)}`;
    this.out.write(
      `${this.prefix(index, result.name)}: ${statusText(result)}${time} (all ${clock((Date.now() - this.started) / 1000)})\n`,
    );
  }
}

/** The running benchmark's process group, stopped when the runner is interrupted. */
let current: ChildProcess | undefined;

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    // The benchmark runs in a process group of its own: its servers and helpers stop with it.
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** Runs one benchmark with its output in `logFile` (and on the terminal when `echo`). */
function runOne(
  benchmark: Benchmark,
  env: NodeJS.ProcessEnv,
  logFile: string,
  echo: boolean,
  timeoutSeconds: number | undefined,
): Promise<{ exitCode: number | null; signal: string | null; timedOut: boolean }> {
  const log = openSync(logFile, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, `${benchmark.name}.ts`)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  current = child;
  const write = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
    appendFileSync(log, chunk);
    if (echo) stream.write(chunk);
  };
  child.stdout!.on('data', write(process.stdout));
  child.stderr!.on('data', write(process.stderr));
  let timedOut = false;
  let killer: NodeJS.Timeout | undefined;
  const timer =
    timeoutSeconds === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          appendFileSync(log, `\n[runner] stopped after ${timeoutSeconds} s (--timeout)\n`);
          killGroup(child, 'SIGTERM');
          killer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
        }, timeoutSeconds * 1000);
  return new Promise((resolve) => {
    let ended: { exitCode: number | null; signal: string | null } | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(killer);
      current = undefined;
      closeSync(log);
      resolve({ exitCode: ended?.exitCode ?? null, signal: ended?.signal ?? null, timedOut });
    };
    child.once('error', (error) => {
      appendFileSync(log, `\n[runner] ${error.message}\n`);
      finish();
    });
    child.once('exit', (exitCode, signal) => {
      ended = { exitCode, signal };
      // Whatever the benchmark left running in its group (a server it did not stop) goes too, so that
      // its output pipes close.
      killGroup(child, 'SIGKILL');
    });
    child.once('close', finish);
  });
}

/** The last lines of a log, to show why a benchmark failed without opening it. */
function tail(file: string, count = 15): string {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  return lines.slice(-count).join('\n');
}

/** Runs the runner with `argv`; resolves with its exit code. */
export async function main(argv: string[]): Promise<number> {
  let options: RunOptions;
  try {
    options = parseRunArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.list) {
    for (const b of BENCHMARKS) {
      const knobs = Object.entries(b.quick).map(([k, v]) => `${k}=${v}`);
      process.stdout.write(`${b.name.padEnd(18)} --quick: ${knobs.join(' ')}\n`);
    }
    return 0;
  }
  const missing = missingPackages([...new Set(['tsx', ...options.selected.flatMap((b) => b.needs)])]);
  if (missing.length > 0) {
    process.stderr.write(
      `bench: the benchmarks need development dependencies missing from ${ROOT}: ${missing.join(', ')} ` +
        '(an install with --omit=dev has none); run `npm ci` there first.\n',
    );
    return 2;
  }
  try {
    mkdirSync(options.results, { recursive: true });
    accessSync(options.results, constants.W_OK);
  } catch (error) {
    process.stderr.write(
      `bench: cannot write the results to ${options.results} (${(error as NodeJS.ErrnoException).code}): give another directory with --results DIR.\n`,
    );
    return 2;
  }

  const started = new Date();
  const report: Report = {
    machine: machine(),
    started: started.toISOString(),
    finished: started.toISOString(),
    quick: options.quick,
    git: gitState(),
    benchmarks: [],
  };
  const echo = options.verbose || options.selected.length === 1;
  const progress = new Progress(process.stderr, started.getTime(), options.selected.length, !echo);
  const save = () => {
    report.finished = new Date().toISOString();
    writeFileSync(path.join(options.results, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    const markdown = markdownSummary(report);
    writeFileSync(path.join(options.results, 'latest.md'), markdown);
    return markdown;
  };

  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    if (current) killGroup(current, 'SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const [index, benchmark] of options.selected.entries()) {
      if (interrupted) break;
      const resultsFile = path.join(options.results, `${benchmark.name}.figures.jsonl`);
      const logName = `${benchmark.name}.log`;
      const logFile = path.join(options.results, logName);
      rmSync(resultsFile, { force: true });
      const { env, applied } = benchmarkEnv(benchmark, options.quick, process.env, resultsFile);
      const result: BenchmarkResult = { name: benchmark.name, status: 'ok', seconds: 0, scenarios: [] };
      const unavailable = benchmark.unavailable?.(env);
      if (unavailable) {
        Object.assign(result, { status: 'skipped', reason: unavailable });
        report.benchmarks.push(result);
        progress.end(index, result);
        continue;
      }
      progress.begin(index, benchmark.name, applied);
      const begun = Date.now();
      const run = await runOne(benchmark, env, logFile, echo, options.timeoutSeconds);
      Object.assign(result, {
        seconds: Math.round((Date.now() - begun) / 100) / 10,
        status: run.exitCode === 0 && !run.timedOut ? 'ok' : 'failed',
        exitCode: run.exitCode,
        signal: run.signal,
        log: logName,
        settings: applied,
        scenarios: readScenarios(resultsFile),
      });
      if (run.timedOut) result.reason = `stopped after ${options.timeoutSeconds} s`;
      else if (interrupted) result.reason = `interrupted by ${interrupted}`;
      rmSync(resultsFile, { force: true });
      report.benchmarks.push(result);
      save();
      progress.end(index, result);
      if (result.status === 'failed' && !echo)
        process.stderr.write(`  last lines of ${logFile}:\n${tail(logFile).replace(/^/gm, '  | ')}\n`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const markdown = save();
  process.stdout.write(
    `\n${markdown}\nResults: ${path.join(options.results, 'latest.md')} and latest.json; `,
  );
  process.stdout.write(`each benchmark's output in ${options.results}/<name>.log\n`);
  if (interrupted) return interrupted === 'SIGINT' ? 130 : 143;
  return report.benchmarks.some((b) => b.status === 'failed') ? 1 : 0;
}

/** Benchmark files in bench/ (for the test that keeps BENCHMARKS complete). */
export function benchmarkFiles(): string[] {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('-server.ts') && !f.startsWith('run-'))
    .map((f) => f.slice(0, -3))
    .filter((name) => !NOT_BENCHMARKS.includes(name))
    .sort();
}
