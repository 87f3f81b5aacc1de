/**
 * Benchmark: the web library's "download selected" zip (POST /api/v1/workspaces/{id}/media/zip) of about
 * 1 GiB of media, against reading the same objects one by one over their presigned GET URLs, measured
 * in the same run (machines here are noisy: read the ratio, not the absolute figures). The server runs
 * in its own process (`skyvault serve`), so the RSS sampled from /proc during the zip is its own.
 * Run: `npm run bench -- library-zip` (BENCH_FILES=100 of BENCH_FILE_MB=10, BENCH_SMALL_FILES=48 of
 * 512 KiB, BENCH_RUNS=3, BENCH_CLIENT=curl or node, BENCH_SERVER_NODE_ARGS for profiling).
 *
 * The default client is curl writing to /dev/null: it costs little CPU, so on a 2-core machine, where
 * client and server share the cores, the figures show what the server sustains. Node's own HTTP client
 * (BENCH_CLIENT=node) spends more CPU than the server per byte and becomes the limit of both measures.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { benchDatabase, pilotSession, postJson, processUsage, startSkyvault } from './helpers.ts';
import { compared, recordFigures } from './report.ts';

const largeCount = Number(process.env.BENCH_FILES ?? 100);
const largeBytes = Number(process.env.BENCH_FILE_MB ?? 10) * 1024 * 1024;
const smallCount = Number(process.env.BENCH_SMALL_FILES ?? 48);
const smallBytes = 512 * 1024;
const runs = Number(process.env.BENCH_RUNS ?? 3);
const client = process.env.BENCH_CLIENT ?? 'curl';
if (client !== 'curl' && client !== 'node') throw new Error('BENCH_CLIENT is curl or node');
const dir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-zip-'));
const password = 'bench-password';
const MiB = 1024 * 1024;

/** The server's resident memory now, in MB (VmRSS). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

interface Request {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

interface Drained {
  bytes: number;
  headers: Record<string, string>;
}

// One keep-alive connection for every request of a measure, as a browser would reuse one.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** Sends the requests one after the other, reading each whole body and discarding it. */
function drain(requests: Request[]): Promise<Drained[]> {
  return client === 'curl' ? drainWithCurl(requests) : drainWithNode(requests);
}

async function drainWithNode(requests: Request[]): Promise<Drained[]> {
  const results: Drained[] = [];
  for (const { url, method = 'GET', headers, body } of requests) {
    results.push(
      await new Promise<Drained>((resolve, reject) => {
        const request = http.request(url, { method, headers, agent }, (response) => {
          if (response.statusCode !== 200) {
            response.resume();
            reject(new Error(`${method} ${url}: HTTP ${response.statusCode}`));
            return;
          }
          let bytes = 0;
          response.on('data', (chunk: Buffer) => (bytes += chunk.length));
          response.on('end', () => resolve({ bytes, headers: response.headers as Record<string, string> }));
          response.on('error', reject);
        });
        request.on('error', reject);
        request.end(body);
      }),
    );
  }
  return results;
}

/**
 * One curl for all the requests (it reuses its connection), bodies to /dev/null. Started
 * asynchronously, so that this process keeps sampling the server's memory meanwhile.
 */
function drainWithCurl(requests: Request[]): Promise<Drained[]> {
  const quote = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const config = requests.flatMap(({ url, method = 'GET', headers = {}, body }, index) => [
    ...(index > 0 ? ['next'] : []),
    `url = ${quote(url)}`,
    'output = "/dev/null"',
    `request = ${method}`,
    ...Object.entries(headers).map(([name, value]) => `header = ${quote(`${name}: ${value}`)}`),
    ...(body === undefined ? [] : [`data-binary = ${quote(body)}`]),
    // Each transfer's size and chosen headers, one JSON line per request.
    `write-out = ${quote('{"bytes":%{size_download},"status":%{http_code},"media":"%header{x-skyvault-media-bytes}"}\\n')}`,
  ]);
  return new Promise((resolve, reject) => {
    const curl = spawn('curl', ['--silent', '--show-error', '--fail', '--config', '-'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    curl.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    curl.on('error', reject);
    curl.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`curl exited with ${code}`));
      const lines = out
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolve(
        lines.map((line) => ({
          bytes: Number(line.bytes),
          headers: { 'x-skyvault-media-bytes': String(line.media) },
        })),
      );
    });
    curl.stdin.end(config.join('\n') + '\n');
  });
}

/** Waits until the server has used less than 2% of a core over a second (enrichment has settled). */
async function serverIdle(pid: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (let before = processUsage(pid).cpuSeconds; Date.now() < deadline;) {
    await sleep(1000);
    const now = processUsage(pid).cpuSeconds;
    if (now - before < 0.02) return;
    before = now;
  }
}

function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  return fn().then((value) => ({ seconds: Number(process.hrtime.bigint() - start) / 1e9, value }));
}

const database = await benchDatabase();
const skyvault = await startSkyvault({
  SKYVAULT_DATA_DIR: dir,
  SKYVAULT_ADMIN_PASSWORD: password,
  ...database.env,
});
const pid = skyvault.child.pid!;
// A server that dies mid-run would otherwise show only as a refused connection.
const died = (code: number | null, signal: NodeJS.Signals | null) =>
  process.stderr.write(
    `skyvault serve ended (code ${code}, signal ${signal}); its last log lines:\n${skyvault.log.slice(-20).join('\n')}\n`,
  );
skyvault.child.once('exit', died);
try {
  const { token, ws, bucket, prefix, s3 } = await pilotSession(skyvault.url, password);

  // Videos of ~10 MiB and photos of 512 KiB, random bytes (incompressible, like real media), uploaded
  // and reported as Pilot 2 does.
  const sizes = [
    ...Array.from({ length: largeCount }, () => largeBytes),
    ...Array.from({ length: smallCount }, () => smallBytes),
  ];
  const mediaBytes = sizes.reduce((a, b) => a + b, 0);
  process.stdout.write(
    `uploading ${sizes.length} files, ${(mediaBytes / MiB).toFixed(0)} MiB (${largeCount} × ${largeBytes / MiB} MiB, ${smallCount} × ${smallBytes / 1024} KiB)…\n`,
  );
  const keys: string[] = [];
  for (let i = 0; i < sizes.length; i += 4) {
    await Promise.all(
      sizes.slice(i, i + 4).map(async (size, j) => {
        const n = i + j;
        const video = size === largeBytes;
        const name = `DJI_20260101120000_${String(n).padStart(4, '0')}_${video ? 'V.MP4' : 'W.JPG'}`;
        const key = `${prefix}/bench/${name}`;
        keys[n] = key;
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: randomBytes(size),
            ContentType: video ? 'video/mp4' : 'image/jpeg',
          }),
        );
        const answer = await postJson<{ code: number; message: string }>(
          `${skyvault.url}/media/api/v1/workspaces/${ws}/upload-callback`,
          {
            result: 0,
            name,
            path: '',
            object_key: key,
            metadata: { created_time: '2026-01-01T12:00:00+08:00' },
          },
          token,
        );
        if (answer.code !== 0) throw new Error(`upload-callback of ${name}: ${answer.message}`);
      }),
    );
  }
  s3.destroy();

  type List = { data: { list: { file_id: string; object_key: string }[] } };
  const listed = await fetch(`${skyvault.url}/media/api/v1/files/${ws}/files?page_size=1000`, {
    headers: { 'x-auth-token': token },
  });
  const idOf = new Map(((await listed.json()) as List).data.list.map((f) => [f.object_key, f.file_id]));
  const ids = keys.map((key) => idOf.get(key)!);
  // What a user clicking each file gets: a 302 to a presigned URL (fetched beforehand, not timed).
  const urls: string[] = [];
  for (const id of ids) {
    const answer = await fetch(`${skyvault.url}/media/api/v1/files/${ws}/file/${id}/url`, {
      headers: { 'x-auth-token': token },
      redirect: 'manual',
    });
    urls.push(answer.headers.get('location')!);
  }
  process.stdout.write('waiting for background enrichment to settle…\n');
  await serverIdle(pid);
  // The uploads' dirty pages written back now rather than during a measure.
  execFileSync('sync');

  const baseline = async () => {
    const results = await drain(urls.map((url) => ({ url })));
    const bytes = results.reduce((sum, r) => sum + r.bytes, 0);
    if (bytes !== mediaBytes) throw new Error(`read ${bytes} bytes of ${mediaBytes}`);
  };
  const zip = async () => {
    const rss = { before: rssMb(pid), peak: 0, after: 0 };
    const sampler = setInterval(() => (rss.peak = Math.max(rss.peak, rssMb(pid))), 20);
    try {
      const [result] = await drain([
        {
          url: `${skyvault.url}/api/v1/workspaces/${ws}/media/zip`,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-auth-token': token },
          body: JSON.stringify({ file_ids: ids }),
        },
      ]);
      const { bytes, headers } = result!;
      if (headers['x-skyvault-media-bytes'] !== String(mediaBytes))
        throw new Error(`X-Skyvault-Media-Bytes ${headers['x-skyvault-media-bytes']}, not ${mediaBytes}`);
      // Stored entries: the zip is the media plus ~100 bytes of headers a file.
      if (bytes < mediaBytes || bytes > mediaBytes + sizes.length * 200)
        throw new Error(`a zip of ${bytes} bytes for ${mediaBytes} bytes of media`);
      return { bytes, rss };
    } finally {
      clearInterval(sampler);
    }
  };

  const baselineRuns: { seconds: number; cpu: number }[] = [];
  const zipRuns: {
    seconds: number;
    cpu: number;
    bytes: number;
    rss: { before: number; peak: number; after: number };
  }[] = [];
  for (let run = 0; run < runs; run++) {
    // Alternate which goes first, so that neither always gets the warmer page cache.
    const order = run % 2 === 0 ? ['baseline', 'zip'] : ['zip', 'baseline'];
    for (const which of order) {
      const cpuBefore = processUsage(pid).cpuSeconds;
      if (which === 'baseline') {
        const { seconds } = await timed(baseline);
        baselineRuns.push({ seconds, cpu: processUsage(pid).cpuSeconds - cpuBefore });
      } else {
        const { seconds, value } = await timed(zip);
        const cpu = processUsage(pid).cpuSeconds - cpuBefore;
        await sleep(1000);
        value.rss.after = rssMb(pid);
        zipRuns.push({ seconds, cpu, bytes: value.bytes, rss: value.rss });
      }
    }
  }

  const mibps = (seconds: number) => mediaBytes / MiB / seconds;
  const best = <T extends { seconds: number }>(rows: T[]) =>
    rows.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const base = best(baselineRuns);
  const fastest = best(zipRuns);
  const list = (rows: { seconds: number }[]) => rows.map((r) => r.seconds.toFixed(2)).join(', ');
  process.stdout.write(
    [
      '',
      `${sizes.length} files, ${(mediaBytes / MiB).toFixed(0)} MiB of media, ${runs} runs each (alternating), best run; client: ${client === 'curl' ? 'curl to /dev/null' : 'node:http, body discarded'}, one connection; server: skyvault serve, embedded store, ${database.url ? 'PostgreSQL' : 'SQLite'}`,
      '| what | seconds (runs) | MiB/s of media | ratio to baseline | server CPU s (best run) | server RSS MB before / peak / after |',
      '|---|---|---|---|---|---|',
      `| presigned GETs, one by one (baseline) | ${list(baselineRuns)} | ${mibps(base.seconds).toFixed(0)} | 1.00 | ${base.cpu.toFixed(1)} | – |`,
      `| zip (POST …/media/zip, stored) | ${list(zipRuns)} | ${mibps(fastest.seconds).toFixed(0)} | ${(base.seconds / fastest.seconds).toFixed(2)} | ${fastest.cpu.toFixed(1)} | ${zipRuns.map((r) => `${r.rss.before.toFixed(0)} / ${r.rss.peak.toFixed(0)} / ${r.rss.after.toFixed(0)}`).join('; ')} |`,
      '',
      `zip size ${fastest.bytes} bytes (${fastest.bytes - mediaBytes} bytes of zip headers); target: ratio ≥ 0.50 with a flat RSS.`,
    ].join('\n') + '\n',
  );
  const peak = zipRuns.reduce((a, b) => (b.rss.peak - b.rss.before > a.rss.peak - a.rss.before ? b : a));
  recordFigures(
    `library-zip, ${sizes.length} files, ${(mediaBytes / MiB).toFixed(0)} MiB, ${client}, ${database.url ? 'PostgreSQL' : 'SQLite'}, best of ${runs}`,
    [
      compared(
        'zip download',
        mibps(fastest.seconds),
        'MiB/s',
        { name: 'presigned GETs one by one', value: mibps(base.seconds) },
        'higher',
        0.5,
      ),
      compared('server CPU, zip', fastest.cpu, 's', { name: 'presigned GETs', value: base.cpu }, 'lower'),
      compared(
        'server RSS, peak during the zip',
        peak.rss.peak,
        'MB',
        { name: 'before', value: peak.rss.before },
        'lower',
      ),
      compared(
        'server RSS, a second after',
        peak.rss.after,
        'MB',
        { name: 'before', value: peak.rss.before },
        'lower',
      ),
    ],
    { files: sizes.length, mediaBytes, client, runs },
  );
} catch (error) {
  process.stderr.write(`the server's last log lines:\n${skyvault.log.slice(-10).join('\n')}\n`);
  throw error;
} finally {
  agent.destroy();
  skyvault.child.off('exit', died);
  await skyvault.stop();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
}
