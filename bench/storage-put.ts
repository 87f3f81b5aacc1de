/**
 * Benchmark: one large PUT through the embedded S3 endpoint, measured against the floor any S3 server has
 * (a Node stream copy of the same file that also computes the MD5 the ETag needs) and against a peer
 * S3 server, s3rver (bench/s3rver-server.ts), with the same clients, file and sizes, all in the same run
 * (machines here are noisy: read the ratios, not the absolute figures). Run: `npm run bench --
 * storage-put`.
 *
 * Each server runs in its own process, a fresh one per PUT, so its peak RSS (VmHWM) is its own; it gets
 * a 1 MiB warm-up PUT from the same client first, and its CPU for the measured PUT is the difference of
 * its utime + stime (/proc/<pid>/stat, all its threads) before the PUT and after the client's `sync`, so
 * start-up and first-request costs are not counted. The floor and the plain Node copy run in a child
 * process of their own (this file with `--copy`), which copies 1 MiB first too and measures its CPU
 * (process.cpuUsage, all its threads) around the copy. `cp` + `sync` and the plain Node copy are shown
 * for information. Times include the `sync`. Figures are the best of the runs (shortest time, least
 * CPU); peak RSS is the highest. The load average is printed: the machine is shared.
 *
 * Client styles (BENCH_MODES): `sdk-default` is what the AWS SDK v3 sends for a stream (aws-chunked body
 * with a CRC32 trailer, i.e. decode + MD5 + CRC32 on the server); `unsigned` is
 * `requestChecksumCalculation: WHEN_REQUIRED` (UNSIGNED-PAYLOAD, MD5 only); `curl-presigned` PUTs to a
 * presigned URL with curl, a client that costs little CPU, which shows what the server itself sustains on
 * a 2-core machine where client and server share the cores.
 *
 * After each PUT the object is read back (a presigned GET, raw bytes) and compared with the source (size,
 * MD5, SHA-256), and the returned ETag with the source's MD5. s3rver keeps the aws-chunked framing of
 * `sdk-default` inside the object (and its ETag is the MD5 of that): such a row is reported as incorrect
 * and not compared. Skyvault must be correct for every style: otherwise the benchmark exits with 1.
 *
 * Goals (issue 15), per client style: server CPU per GiB ≤ 1.3 × the floor's; for `curl-presigned`,
 * MiB/s ≥ the floor's; where s3rver stores the bytes correctly, MiB/s ≥ s3rver's and CPU per GiB
 * ≤ 1.1 × s3rver's; server peak RSS < 150 MB; bytes and ETag correct.
 *
 * Knobs: BENCH_SIZE_MB (1024), BENCH_RUNS (2), BENCH_MODES (sdk-default,unsigned,curl-presigned),
 * BENCH_PEERS (`s3rver`; `none` for Skyvault alone), BENCH_DIR (where the files go; the temp dir),
 * BENCH_SERVER_CPU_PROF (a directory: each server process writes a CPU profile there, named
 * `<peer>-<mode>-<run>-<pid>.cpuprofile`, as `node --cpu-prof` would).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { UploadCredentials } from '../src/storage/provider.ts';
import { sdkClient } from '../test/helpers/storage.ts';
import { processUsage, startScript } from './helpers.ts';
import { compared, type Figure, recordFigures } from './report.ts';

type Mode = 'sdk-default' | 'unsigned' | 'curl-presigned';
type Peer = 'skyvault' | 's3rver';
const ALL_MODES: Mode[] = ['sdk-default', 'unsigned', 'curl-presigned'];
const KEY = 'bench/big.bin';
const GIB = 1024 ** 3;

interface Timing {
  seconds: number;
  cpuSeconds: number;
}
interface Check {
  correct: boolean;
  /** Why not, e.g. "stored 268,437,xxx bytes for 268,435,456, with the aws-chunked framing; ETag …". */
  problem: string | undefined;
}
interface Upload extends Timing, Check {
  rssMb: number;
}

function sync(): void {
  execFileSync('sync');
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * The child process of the floor (`--copy md5 <from> <to>`) and of the plain Node copy (`--copy plain`):
 * streams the file to a new one (hashing it with MD5 in the same pass for `md5`), then syncs, and prints
 * {seconds, cpuSeconds, md5} with its own CPU around the copy.
 */
async function copyChild(kind: string, from: string, to: string): Promise<void> {
  const copy = async (end?: number) => {
    const hash = kind === 'md5' ? createHash('md5') : undefined;
    const input = createReadStream(from, { end });
    if (hash) input.on('data', (chunk) => hash.update(chunk));
    await pipeline(input, createWriteStream(to));
    return hash?.digest('hex');
  };
  await copy(1024 * 1024 - 1); // warm-up, as the servers get one
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const md5 = await copy();
  const used = process.cpuUsage(cpu);
  sync();
  const result = { seconds: seconds(start), cpuSeconds: (used.user + used.system) / 1e6, md5 };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function main(): Promise<void> {
  const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1024);
  const size = sizeMb * 1024 * 1024;
  const runs = Number(process.env.BENCH_RUNS ?? 2);
  const modes = (process.env.BENCH_MODES ?? ALL_MODES.join(','))
    .split(',')
    .filter(Boolean)
    .map((mode) => {
      if (!ALL_MODES.includes(mode as Mode)) throw new Error(`BENCH_MODES: unknown mode ${mode}`);
      return mode as Mode;
    });
  const peerList = process.env.BENCH_PEERS ?? 's3rver';
  const peers: Peer[] = ['skyvault', ...(/\bs3rver\b/.test(peerList) ? (['s3rver'] as const) : [])];
  const dir = mkdtempSync(path.join(process.env.BENCH_DIR ?? tmpdir(), 'skyvault-bench-'));
  const source = path.join(dir, 'source.bin');
  const warmUp = path.join(dir, 'warm-up.bin');
  /** The source's digests, once written. */
  let digests = { md5: '', sha256: '' };

  /** Random bytes; returns their MD5 and SHA-256. */
  async function writeSource(): Promise<{ md5: string; sha256: string }> {
    const md5 = createHash('md5');
    const sha256 = createHash('sha256');
    const out = createWriteStream(source);
    const block = 8 * 1024 * 1024;
    for (let written = 0; written < size; written += block) {
      const chunk = randomBytes(Math.min(block, size - written));
      md5.update(chunk);
      sha256.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
    return { md5: md5.digest('hex'), sha256: sha256.digest('hex') };
  }

  function plainCopy(): number {
    const target = path.join(dir, 'copy.bin');
    const start = process.hrtime.bigint();
    execFileSync('cp', [source, target]);
    sync();
    const elapsed = seconds(start);
    rmSync(target);
    return elapsed;
  }

  /** A Node stream copy in a child process (with MD5: the floor); its time and CPU as it measured them. */
  function nodeCopy(kind: 'plain' | 'md5'): Timing {
    const target = path.join(dir, `node-copy-${kind}.bin`);
    const line = execFileSync(
      process.execPath,
      ['--import', 'tsx', import.meta.filename, '--copy', kind, source, target],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    rmSync(target);
    const result = JSON.parse(line) as Timing & { md5?: string };
    if (kind === 'md5' && result.md5 !== digests.md5) throw new Error('the copy’s MD5 is not the source’s');
    return result;
  }

  /** The object as stored, read back raw (node:http, no content decoding) from a presigned GET URL. */
  async function readBack(
    url: string,
  ): Promise<{ bytes: number; md5: string; sha256: string; head: Buffer }> {
    return new Promise((resolve, reject) => {
      http
        .get(url, (response) => {
          if (response.statusCode !== 200) {
            response.resume();
            reject(new Error(`GET answered ${response.statusCode}`));
            return;
          }
          const md5 = createHash('md5');
          const sha256 = createHash('sha256');
          let bytes = 0;
          let head = Buffer.alloc(0);
          response.on('data', (chunk: Buffer) => {
            if (head.length < 64) head = Buffer.concat([head, chunk.subarray(0, 64 - head.length)]);
            bytes += chunk.length;
            md5.update(chunk);
            sha256.update(chunk);
          });
          response.on('end', () =>
            resolve({ bytes, md5: md5.digest('hex'), sha256: sha256.digest('hex'), head }),
          );
          response.on('error', reject);
        })
        .on('error', reject);
    });
  }

  async function startServer(peer: Peer, serverDir: string, profileName: string) {
    // Names the profile when BENCH_SERVER_CPU_PROF is set (see bench/storage-server.ts).
    const serverEnv = { BENCH_SERVER_PROFILE_NAME: profileName };
    if (peer === 'skyvault') {
      const server = await startScript<UploadCredentials>('bench/storage-server.ts', [serverDir], serverEnv);
      return { ...server, credentials: server.ready };
    }
    const server = await startScript<{ port: number }>('bench/s3rver-server.ts', [serverDir], serverEnv);
    const credentials: UploadCredentials = {
      accessKeyId: 'S3RVER',
      accessKeySecret: 'S3RVER',
      securityToken: '',
      expiresAt: Date.now() + 3_600_000,
      endpoint: `http://127.0.0.1:${server.ready.port}`,
      bucket: 'bench',
      region: 'us-east-1',
      provider: 'minio',
      prefix: '',
    };
    return { ...server, credentials };
  }

  async function upload(peer: Peer, mode: Mode, run: number): Promise<Upload> {
    const serverDir = mkdtempSync(path.join(dir, `${peer}-`));
    const server = await startServer(peer, serverDir, `${peer}-${mode}-${run + 1}`);
    const pid = server.child.pid!;
    const { credentials } = server;
    const client = sdkClient(credentials, {
      maxAttempts: 1,
      ...(mode === 'sdk-default' ? {} : { requestChecksumCalculation: 'WHEN_REQUIRED' as const }),
    });
    try {
      const put = async (file: string): Promise<string | undefined> => {
        if (mode === 'curl-presigned') {
          const command = new PutObjectCommand({ Bucket: credentials.bucket, Key: KEY });
          const url = await getSignedUrl(client, command, { expiresIn: 600 });
          const headers = execFileSync('curl', ['-sS', '-f', '-D', '-', '-o', '/dev/null', '-T', file, url], {
            encoding: 'utf8',
          });
          return /^etag: (.+?)\r?$/im.exec(headers)?.[1];
        }
        const result = await client.send(
          new PutObjectCommand({
            Bucket: credentials.bucket,
            Key: KEY,
            Body: createReadStream(file),
            ContentLength: statSync(file).size,
          }),
        );
        return result.ETag;
      };
      // A warm-up PUT of 1 MiB first (same client, same key), so that the figures are those of a server
      // already running, not its first request's lazy loading and compilation.
      await put(warmUp);
      const before = processUsage(pid);
      const start = process.hrtime.bigint();
      const etag = await put(source);
      sync();
      const elapsed = seconds(start);
      const after = processUsage(pid);
      const check = await checkStored(
        await getSignedUrl(client, new GetObjectCommand({ Bucket: credentials.bucket, Key: KEY }), {
          expiresIn: 600,
        }),
        etag,
      );
      return {
        seconds: elapsed,
        cpuSeconds: after.cpuSeconds - before.cpuSeconds,
        rssMb: after.peakRssMb,
        ...check,
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { seconds: NaN, cpuSeconds: NaN, rssMb: NaN, correct: false, problem: `failed: ${message}` };
    } finally {
      client.destroy();
      await server.stop();
      rmSync(serverDir, { recursive: true, force: true });
    }
  }

  async function checkStored(url: string, etag: string | undefined): Promise<Check> {
    const stored = await readBack(url);
    const problems: string[] = [];
    if (stored.bytes !== size || stored.md5 !== digests.md5 || stored.sha256 !== digests.sha256) {
      const framed = /^[0-9a-f]+(;[^\r\n]*)?\r\n/i.test(stored.head.toString('latin1'));
      problems.push(
        `stored ${stored.bytes.toLocaleString('en')} bytes for ${size.toLocaleString('en')}` +
          (stored.bytes === size ? ', different ones' : '') +
          (framed ? ', with the aws-chunked framing' : ''),
      );
    }
    if (etag !== `"${digests.md5}"`) problems.push(`ETag ${etag ?? 'missing'} is not the MD5`);
    return { correct: problems.length === 0, problem: problems.length ? problems.join('; ') : undefined };
  }

  const startLoad = loadavg()[0]!.toFixed(1);
  const copies: number[] = [];
  const nodeCopies: Timing[] = [];
  const md5Copies: Timing[] = [];
  const uploads = new Map<string, Upload[]>();
  const resultsOf = (peer: Peer, mode: Mode) => uploads.get(`${peer} ${mode}`) ?? [];
  try {
    digests = await writeSource();
    writeFileSync(warmUp, randomBytes(1024 * 1024));
    sync();
    for (let run = 0; run < runs; run++) {
      copies.push(plainCopy());
      nodeCopies.push(nodeCopy('plain'));
      md5Copies.push(nodeCopy('md5'));
      for (const mode of modes) {
        // Alternate which server goes first, so that neither always meets the machine in the same state.
        for (const peer of run % 2 === 0 ? peers : [...peers].reverse()) {
          const result = await upload(peer, mode, run);
          uploads.set(`${peer} ${mode}`, [...resultsOf(peer, mode), result]);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const gib = size / GIB;
  const min = (values: number[]) => Math.min(...values);
  const mibps = (s: number) => sizeMb / s;
  const list = (values: number[], digits: number) => values.map((v) => v.toFixed(digits)).join(', ');
  const floor = {
    name: 'Node stream copy + MD5',
    mibps: mibps(min(md5Copies.map((r) => r.seconds))),
    cpuPerGib: min(md5Copies.map((r) => r.cpuSeconds)) / gib,
  };
  interface Summary {
    correct: boolean;
    problem: string | undefined;
    mibps: number;
    cpuPerGib: number;
    rssMb: number;
  }
  const summary = (peer: Peer, mode: Mode): Summary => {
    const results = resultsOf(peer, mode);
    const problem = results.find((r) => !r.correct)?.problem;
    return {
      correct: problem === undefined,
      problem,
      mibps: mibps(min(results.map((r) => r.seconds))),
      cpuPerGib: min(results.map((r) => r.cpuSeconds)) / gib,
      rssMb: Math.max(...results.map((r) => r.rssMb)),
    };
  };

  const rows: string[] = [];
  rows.push(
    `PUT of ${sizeMb} MiB, ${runs} run(s) each, best run; floor = ${floor.name} (a child process, its own CPU); ` +
      `load average ${startLoad} at the start, ${loadavg()[0]!.toFixed(1)} at the end`,
    '',
    '| what | seconds (runs) | MiB/s | CPU s (runs) | CPU s/GiB | peak RSS | stored bytes and ETag |',
    '|---|---|---|---|---|---|---|',
    `| cp + sync (information) | ${list(copies, 2)} | ${mibps(min(copies)).toFixed(0)} | – | – | – | – |`,
    `| Node stream copy + sync (information) | ${list(
      nodeCopies.map((r) => r.seconds),
      2,
    )} | ${mibps(min(nodeCopies.map((r) => r.seconds))).toFixed(0)} | ${list(
      nodeCopies.map((r) => r.cpuSeconds),
      2,
    )} | ${(min(nodeCopies.map((r) => r.cpuSeconds)) / gib).toFixed(2)} | – | – |`,
    `| **${floor.name} + sync (floor)** | ${list(
      md5Copies.map((r) => r.seconds),
      2,
    )} | ${floor.mibps.toFixed(0)} | ${list(
      md5Copies.map((r) => r.cpuSeconds),
      2,
    )} | ${floor.cpuPerGib.toFixed(2)} | – | – |`,
  );
  for (const mode of modes) {
    for (const peer of peers) {
      const results = resultsOf(peer, mode);
      const s = summary(peer, mode);
      const name = peer === 'skyvault' ? 'Skyvault' : 's3rver';
      rows.push(
        `| ${name}, ${mode} | ${list(
          results.map((r) => r.seconds),
          2,
        )} | ${s.mibps.toFixed(0)} | ${list(
          results.map((r) => r.cpuSeconds),
          2,
        )} | ${s.cpuPerGib.toFixed(2)} | ${s.rssMb.toFixed(0)} MB | ${
          s.correct ? 'correct' : `**incorrect** (${s.problem})`
        } |`,
      );
    }
  }

  const figures: Figure[] = [];
  const cell = (figure: Figure | undefined, digits = 2) =>
    figure?.goal
      ? `${(figure.ratio ?? figure.value).toFixed(digits)} ${figure.goal.met ? 'met' : '**not met**'}`
      : figure
        ? `${(figure.ratio ?? figure.value).toFixed(digits)} (information)`
        : '–';
  rows.push(
    '',
    'Skyvault against its goals (ratios are value ÷ baseline; – where there is nothing to compare with)',
    '',
    '| client style | MiB/s | CPU s/GiB | CPU/GiB ÷ floor (≤ 1.3) | MiB/s ÷ floor (≥ 1.0 presigned) | MiB/s ÷ s3rver (≥ 1.0) | CPU/GiB ÷ s3rver (≤ 1.1) | peak RSS MB (< 150) | bytes and ETag correct |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  let skyvaultCorrect = true;
  for (const mode of modes) {
    const s = summary('skyvault', mode);
    const label = `storage-put, ${mode}`;
    if (!s.correct) skyvaultCorrect = false;
    const cpuVsFloor = compared(
      `${label}: server CPU per GiB`,
      s.cpuPerGib,
      's/GiB',
      { name: floor.name, value: floor.cpuPerGib },
      'lower',
      1.3,
    );
    const rateVsFloor = compared(
      `${label}: MiB/s`,
      s.mibps,
      'MiB/s',
      { name: floor.name, value: floor.mibps },
      'higher',
      mode === 'curl-presigned' ? 1.0 : undefined,
    );
    const rss: Figure = {
      name: `${label}: server peak RSS`,
      value: s.rssMb,
      unit: 'MB',
      better: 'lower',
      goal: { limit: 150, met: s.rssMb < 150 },
    };
    const correct: Figure = {
      name: `${label}: stored bytes and ETag correct`,
      value: s.correct ? 1 : 0,
      unit: 'yes=1',
      better: 'higher',
      goal: { limit: 1, met: s.correct },
    };
    let rateVsPeer: Figure | undefined;
    let cpuVsPeer: Figure | undefined;
    let peerNote = '– (s3rver not run)';
    if (peers.includes('s3rver')) {
      const peer = summary('s3rver', mode);
      if (peer.correct) {
        rateVsPeer = compared(
          `${label}: MiB/s vs s3rver`,
          s.mibps,
          'MiB/s',
          { name: `s3rver, ${mode}`, value: peer.mibps },
          'higher',
          1.0,
        );
        cpuVsPeer = compared(
          `${label}: server CPU per GiB vs s3rver`,
          s.cpuPerGib,
          's/GiB',
          { name: `s3rver, ${mode}`, value: peer.cpuPerGib },
          'lower',
          1.1,
        );
      } else peerNote = '– (s3rver incorrect)';
    }
    figures.push(
      ...[cpuVsFloor, rateVsFloor, rateVsPeer, cpuVsPeer, rss, correct].filter((f) => f !== undefined),
    );
    rows.push(
      `| ${mode} | ${s.mibps.toFixed(0)} | ${s.cpuPerGib.toFixed(2)} | ${cell(cpuVsFloor)} | ${cell(
        rateVsFloor,
      )} | ${rateVsPeer ? cell(rateVsPeer) : peerNote} | ${cpuVsPeer ? cell(cpuVsPeer) : peerNote} | ${cell(
        rss,
        0,
      )} | ${s.correct ? 'yes met' : `**no** (${s.problem})`} |`,
    );
  }
  process.stdout.write(`${rows.join('\n')}\n`);
  const correctness = Object.fromEntries(
    modes.flatMap((mode) =>
      peers.map((peer) => [`${peer}, ${mode}`, summary(peer, mode).problem ?? 'correct'] as const),
    ),
  );
  recordFigures('storage-put', figures, { sizeMb, runs, correctness });
  if (!skyvaultCorrect) {
    process.stderr.write('Skyvault stored an object incorrectly (see the table).\n');
    process.exitCode = 1;
  }
}

if (process.argv[2] === '--copy') {
  const [kind, from, to] = process.argv.slice(3);
  if (!kind || !from || !to) throw new Error('usage: storage-put.ts --copy plain|md5 <from> <to>');
  await copyChild(kind, from, to);
} else await main();
