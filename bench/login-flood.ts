/**
 * Benchmark: what a flood of bogus logins does to everyone else. A running Skyvault (production hash
 * cost 15) receives, for BENCH_SECONDS per phase: a 1 MiB S3 PUT every 200 ms through the embedded
 * store (the latency of each), and BENCH_USERS real users logging in with the right password one after
 * another from their own addresses, pausing BENCH_PAUSE_MS between logins (logins per second, latency,
 * refusals). Phases: no flood (the baseline), then BENCH_FLOOD bogus logins kept in flight (sent again
 * as soon as answered, as an attacker does), in three shapes: `distributed` (unknown usernames, each
 * request from another address: no per-key limit applies), `one-address` (unknown usernames, one
 * address) and `one-account` (the real account, wrong passwords, each request from another address).
 * Addresses are set with X-Forwarded-For, which Skyvault trusts from loopback by default. The flood
 * runs in a process of its own (this file, `flood` mode), so its event loop does not delay the
 * measuring client's. Run: `npm run bench -- login-flood` (BENCH_SECONDS, BENCH_FLOOD, BENCH_USERS,
 * BENCH_PAUSE_MS, BENCH_SHAPES).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Figure } from './report.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const floodSize = Number(process.env.BENCH_FLOOD ?? 32);
const users = Number(process.env.BENCH_USERS ?? 4);
const pauseMs = Number(process.env.BENCH_PAUSE_MS ?? 250);
const shapes = (process.env.BENCH_SHAPES ?? 'distributed,one-address,one-account').split(',') as Shape[];
type Shape = 'distributed' | 'one-address' | 'one-account';
const password = 'bench-login-password';

/** One login over HTTP/1.1: its status, its envelope code and how long it took. */
function postLogin(
  agent: Agent,
  url: URL,
  username: string,
  secret: string,
  address: string,
): Promise<{ status: number; code: number; ms: number }> {
  const body = JSON.stringify({ username, password: secret, flag: 2 });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-forwarded-for': address,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          let code = -1;
          try {
            code = (JSON.parse(Buffer.concat(chunks).toString()) as { code: number }).code;
          } catch {
            // not an envelope: counted by status
          }
          resolve({ status: res.statusCode ?? 0, code, ms: performance.now() - started });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * `flood` mode (a child process): keeps `floodSize` bogus logins in flight until SIGTERM, then lets
 * those in flight finish and prints the answers by status as one JSON line.
 */
async function runFlood(url: URL, shape: Shape): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: floodSize });
  const answers: Record<string, number> = {};
  let flooding = true;
  let sent = 0;
  process.once('SIGTERM', () => (flooding = false));
  const loops = Array.from({ length: floodSize }, async () => {
    while (flooding) {
      const n = sent++;
      const address = shape === 'one-address' ? '203.0.113.7' : `198.51.${(n >> 8) & 255}.${n & 255}`;
      const username = shape === 'one-account' ? 'admin' : `bogus-${n}`;
      const answer = await postLogin(agent, url, username, 'not-the-password', address).catch(
        () => undefined,
      );
      const key = answer ? `HTTP ${answer.status} code ${answer.code}` : 'error';
      answers[key] = (answers[key] ?? 0) + 1;
    }
  });
  process.stdout.write('{"flooding":true}\n');
  await Promise.all(loops);
  agent.destroy();
  process.stdout.write(`${JSON.stringify(answers)}\n`);
}

/** Starts the flood in a child process; `stop()` resolves with its answers by status. */
async function startFlood(url: URL, shape: Shape): Promise<{ stop(): Promise<Record<string, number>> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', import.meta.filename, 'flood', url.href, shape],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the flood process exited before flooding');
  return {
    async stop() {
      child.kill('SIGTERM');
      const last = await lines.next();
      return last.done ? {} : (JSON.parse(last.value) as Record<string, number>);
    },
  };
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

interface PhaseResult {
  name: string;
  puts: number[];
  putsAborted: number;
  logins: number[];
  loginsRefused: number;
  floodAnswers: Record<string, number>;
  serverCpuSeconds: number;
}

async function main(): Promise<void> {
  // Imported here, not at the top: the flood processes (this file in `flood` mode) need none of it, and
  // each would otherwise load the AWS SDK and, through the helpers, the whole app before flooding.
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const { pilotSession, processUsage, startSkyvault } = await import('./helpers.ts');
  const { compared, recordFigures } = await import('./report.ts');
  const dir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-login-'));
  const skyvault = await startSkyvault({
    SKYVAULT_DATA_DIR: dir,
    SKYVAULT_ADMIN_PASSWORD: password,
    SKYVAULT_PASSWORD_HASH_COST: '15',
  });
  const loginUrl = new URL('/manage/api/v1/login', skyvault.url);
  const agent = new Agent({ keepAlive: true, maxSockets: users + 4 });
  try {
    const { bucket, prefix, s3 } = await pilotSession(skyvault.url, password);
    const body = randomBytes(1024 * 1024);
    let putCount = 0;

    const phase = async (name: string, shape: Shape | undefined): Promise<PhaseResult> => {
      const result: PhaseResult = {
        name,
        puts: [],
        putsAborted: 0,
        logins: [],
        loginsRefused: 0,
        floodAnswers: {},
        serverCpuSeconds: 0,
      };
      const cpuBefore = processUsage(skyvault.child.pid!).cpuSeconds;
      const flood = shape ? await startFlood(loginUrl, shape) : undefined;
      const end = performance.now() + seconds * 1000;
      const userLoops = Array.from({ length: users }, async (_, u) => {
        while (performance.now() < end) {
          const answer = await postLogin(agent, loginUrl, 'admin', password, `192.0.2.${10 + u}`);
          if (answer.code === 0) result.logins.push(answer.ms);
          else result.loginsRefused++;
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
      });
      const putLoop = (async () => {
        while (performance.now() < end) {
          const putStarted = performance.now();
          try {
            await s3.send(
              new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/put-${putCount++}.bin`, Body: body }),
              { abortSignal: AbortSignal.timeout(60_000) },
            );
            result.puts.push(performance.now() - putStarted);
          } catch (error) {
            const aborted = ['AbortError', 'TimeoutError'].includes((error as Error).name);
            if (!aborted) throw error;
            result.putsAborted++;
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      await Promise.all([putLoop, ...userLoops]);
      // What is in flight drains before the next phase.
      if (flood) result.floodAnswers = await flood.stop();
      result.serverCpuSeconds = processUsage(skyvault.child.pid!).cpuSeconds - cpuBefore;
      return result;
    };

    await phase('warm-up', undefined);
    const results = [await phase('no flood', undefined)];
    for (const shape of shapes) results.push(await phase(`flood: ${shape}`, shape));
    const [base] = results as [PhaseResult];
    const basePut = percentile(base.puts, 50);
    const baseRate = base.logins.length / seconds;

    console.log(
      `\nlogin-flood: ${seconds} s per phase, flood of ${floodSize} bogus logins in flight, ${users} real users ` +
        `(pause ${pauseMs} ms), 1 MiB PUT every 200 ms, hash cost 15\n`,
    );
    console.log(
      '| phase | PUT p50 / p95 / max ms (p50 ratio) | PUTs aborted | real logins/s (ratio) | real login p50 / p95 ms | real logins refused | flood answers | server CPU s |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      const p50 = percentile(r.puts, 50);
      const rate = r.logins.length / seconds;
      const answers =
        Object.entries(r.floodAnswers)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') || '—';
      const putFigures =
        r.puts.length === 0
          ? 'none finished within 60 s'
          : `${p50.toFixed(0)} / ${percentile(r.puts, 95).toFixed(0)} / ${Math.max(...r.puts).toFixed(0)} (${(p50 / basePut).toFixed(1)})`;
      console.log(
        `| ${r.name} | ${putFigures} ` +
          `| ${r.putsAborted} | ${rate.toFixed(2)} (${(rate / baseRate).toFixed(2)}) ` +
          `| ${percentile(r.logins, 50).toFixed(0)} / ${percentile(r.logins, 95).toFixed(0)} | ${r.loginsRefused} ` +
          `| ${answers} | ${r.serverCpuSeconds.toFixed(1)} |`,
      );
    }
    const figures: Figure[] = [];
    const basePut95 = percentile(base.puts, 95);
    for (const r of results.slice(1)) {
      const refused = Object.entries(r.floodAnswers)
        .filter(([answer]) => answer.startsWith('HTTP 429'))
        .reduce((sum, [, n]) => sum + n, 0);
      figures.push(
        compared(
          `${r.name}: PUT p50`,
          percentile(r.puts, 50),
          'ms',
          { name: 'no flood', value: basePut },
          'lower',
        ),
        compared(
          `${r.name}: PUT p95`,
          percentile(r.puts, 95),
          'ms',
          { name: 'no flood', value: basePut95 },
          'lower',
        ),
        compared(
          `${r.name}: real logins`,
          r.logins.length / seconds,
          'logins/s',
          { name: 'no flood', value: baseRate },
          'higher',
        ),
        { name: `${r.name}: bogus logins refused (HTTP 429)`, value: refused, unit: 'requests' },
        compared(
          `${r.name}: server CPU`,
          r.serverCpuSeconds,
          's',
          { name: 'no flood', value: base.serverCpuSeconds },
          'lower',
        ),
      );
    }
    recordFigures(
      `login-flood, ${seconds} s phases, ${floodSize} bogus logins in flight, ${users} real users, hash cost 15`,
      figures,
      { seconds, floodSize, users, pauseMs, shapes },
    );
    s3.destroy();
  } finally {
    agent.destroy();
    await skyvault.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'flood') await runFlood(new URL(process.argv[3]!), process.argv[4] as Shape);
else await main();
