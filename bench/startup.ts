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
 * Knobs: BENCH_RUNS (5).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IDLE_MS = 2000;

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
    env: {
      ...process.env,
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
    for (;;) {
      const answer = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      if (answer?.status === 200) break;
      await sleep(5);
    }
    const readyMs = performance.now() - started;
    await sleep(IDLE_MS);
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]!;
    return { readyMs, rssMb: Number(rss) / 1024 };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const skyvaultPort = (line: string) =>
  Number(/Web and API:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1]) || undefined;
const variants = [
  {
    name: 'bare node:http',
    run: () => measure(['-e', BARE_SERVER], {}, (l) => Number(/^PORT (\d+)/.exec(l)?.[1]) || undefined),
  },
  {
    name: 'skyvault (bundle)',
    run: () => measure([path.join(ROOT, 'bin/skyvault.js'), 'serve'], {}, skyvaultPort),
  },
  {
    name: 'skyvault (sources, tsx)',
    run: () =>
      measure([path.join(ROOT, 'bin/skyvault.js'), 'serve'], { SKYVAULT_FROM_SOURCE: '1' }, skyvaultPort),
  },
];

const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
for (let run = 1; run <= RUNS; run++) {
  for (const variant of run % 2 ? variants : [...variants].reverse()) {
    samples.get(variant.name)!.push(await variant.run());
  }
  process.stderr.write(`run ${run}/${RUNS} done\n`);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
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
