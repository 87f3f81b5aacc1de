/**
 * Start-up and footprint: the time from spawning `skyvault serve` on an empty data directory to its
 * first `/healthz` 200, and its resident memory (VmRSS) two seconds after, idle. Skyvault runs from the
 * bundle `npm ci` builds (scripts/build-server.js) and, for comparison, from its TypeScript sources
 * through tsx (SKYVAULT_FROM_SOURCE=1, what every start cost before the bundle).
 *
 * Baseline, in the same run: Node itself starting a bare `node:http` server that answers 200, spawned
 * and polled the same way: the floor any Node server pays (process start, event loop, first request).
 * Runs alternate between the three so that the machine's load falls on all alike; medians are printed.
 *
 * Goals (issue 15): ready in under 1000 ms and an idle RSS under 120 MB, for the bundle.
 * The bundle runs only where it is current (bin/skyvault.js): where the sources changed after it was
 * built, the "bundle" rows are the sources through tsx, and the output says so (`npm run build`).
 *
 * Knobs: BENCH_RUNS (5), BENCH_IDLE_MS (2000: how long after ready the idle RSS is read),
 * BENCH_VARIANTS (bare,bundle,sources; the sources can be left out).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { bundleIsCurrent, readyAndIdle } from './start-measure.ts';
import { compared, type Figure, recordFigures } from './report.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 2000);

interface Sample {
  readyMs: number;
  rssMb: number;
}

const BARE_SERVER = `require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () {
  console.log('PORT ' + this.address().port);
});`;

async function measure(
  args: string[],
  env: Record<string, string>,
  portOf: (line: string) => number | undefined,
): Promise<Sample> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-startup-'));
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // No SKYVAULT_* of the shell (an operator's SKYVAULT_FROM_SOURCE or data directory) gets in, as
    // in bench/helpers.ts's childEnv (not imported: it loads the test helpers, the app and minio).
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SKYVAULT_'))),
      SKYVAULT_DATA_DIR: dataDir,
      SKYVAULT_HOST: '127.0.0.1',
      SKYVAULT_HTTP_PORT: '0',
      SKYVAULT_STORAGE_PORT: '0',
      SKYVAULT_MQTT_PORT: '0',
      SKYVAULT_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const found = portOf(line);
        if (found) resolve(found);
      });
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    });
    const { readyMs, idleRssMb } = await readyAndIdle(
      `http://127.0.0.1:${port}`,
      child.pid!,
      started,
      IDLE_MS,
    );
    return { readyMs, rssMb: idleRssMb };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const bundle = bundleIsCurrent();
if (!bundle)
  process.stderr.write(
    'The bundle (dist/server) is missing or older than the sources, so bin/skyvault.js runs the sources ' +
      'through tsx: the "bundle" rows measure that too. `npm run build` makes it current.\n',
  );
const bundleName = bundle ? 'skyvault (bundle)' : 'skyvault (bundle stale: sources, tsx)';

const skyvaultPort = (line: string) =>
  Number(/Web and API:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1]) || undefined;
const allVariants = [
  {
    key: 'bare',
    name: 'bare node:http',
    run: () => measure(['-e', BARE_SERVER], {}, (l) => Number(/^PORT (\d+)/.exec(l)?.[1]) || undefined),
  },
  {
    key: 'bundle',
    name: bundleName,
    run: () => measure([path.join(ROOT, 'bin/skyvault.js'), 'serve'], {}, skyvaultPort),
  },
  {
    key: 'sources',
    name: 'skyvault (sources, tsx)',
    run: () =>
      measure([path.join(ROOT, 'bin/skyvault.js'), 'serve'], { SKYVAULT_FROM_SOURCE: '1' }, skyvaultPort),
  },
];
// The baseline and the bundle always run; BENCH_VARIANTS=bare,bundle leaves the sources out.
const wanted = (process.env.BENCH_VARIANTS ?? 'bare,bundle,sources').split(',');
const variants = allVariants.filter((v) => v.key !== 'sources' || wanted.includes('sources'));

const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
for (let run = 1; run <= RUNS; run++) {
  for (const variant of run % 2 ? variants : [...variants].reverse()) {
    samples.get(variant.name)!.push(await variant.run());
  }
  process.stderr.write(`run ${run}/${RUNS} done\n`);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const medians = (name: string) => {
  const list = samples.get(name)!;
  return { ready: median(list.map((s) => s.readyMs)), rss: median(list.map((s) => s.rssMb)) };
};
const base = median(samples.get('bare node:http')!.map((s) => s.readyMs));
console.log(
  `start-up, empty data directory, median of ${RUNS} (load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`,
);
console.log('| process | ready (ms) | × bare node:http | idle RSS (MB) |');
console.log('|---|---|---|---|');
for (const [name, list] of samples) {
  const ready = median(list.map((s) => s.readyMs));
  console.log(
    `| ${name} | ${Math.round(ready)} | ${(ready / base).toFixed(2)} | ${Math.round(median(list.map((s) => s.rssMb)))} |`,
  );
}

const bare = medians('bare node:http');
const figures: Figure[] = [];
for (const [name, label] of [
  [bundleName, bundle ? 'bundle' : 'bundle (stale: sources)'],
  ['skyvault (sources, tsx)', 'sources through tsx'],
] as const) {
  if (!samples.has(name)) continue;
  const m = medians(name);
  figures.push(
    compared(`ms to ready, ${label}`, m.ready, 'ms', { name: 'bare node:http', value: bare.ready }, 'lower'),
    compared(`idle RSS, ${label}`, m.rss, 'MB', { name: 'bare node:http', value: bare.rss }, 'lower'),
  );
}
// The goals are on the values themselves, not on ratios: figures without a baseline.
const shipped = medians(bundleName);
const shippedLabel = bundle ? 'bundle' : 'bundle (stale: sources)';
figures.push(
  {
    name: `ms to ready, ${shippedLabel}: goal`,
    value: shipped.ready,
    unit: 'ms',
    better: 'lower',
    goal: { limit: 1000, met: shipped.ready < 1000 },
  },
  {
    name: `idle RSS, ${shippedLabel}: goal`,
    value: shipped.rss,
    unit: 'MB',
    better: 'lower',
    goal: { limit: 120, met: shipped.rss < 120 },
  },
);
recordFigures(`startup, empty data directory, median of ${RUNS}`, figures, {
  bundleCurrent: bundle,
  idleMs: IDLE_MS,
});
