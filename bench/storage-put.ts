/**
 * Benchmark: PUT of a large file through the embedded S3 endpoint with the AWS SDK, against a plain
 * copy of the same file on the same disk, measured in the same run (machines here are noisy: read the
 * ratios, not the absolute figures). The server runs in its own process so its peak RSS (VmHWM) is its
 * own. Run: `npm run bench -- storage` (BENCH_SIZE_MB=1024 by default, BENCH_RUNS=2).
 *
 * Modes: `sdk-default` is what the AWS SDK v3 sends for a stream (aws-chunked body with a CRC32
 * trailer, i.e. decode + MD5 + CRC32 on the server); `unsigned` is `requestChecksumCalculation:
 * WHEN_REQUIRED` (UNSIGNED-PAYLOAD, MD5 only); `curl-presigned` PUTs to a presigned URL with curl, a
 * client that costs little CPU, which shows what the server itself sustains on a 2-core machine where
 * client and server share the cores.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { UploadCredentials } from '../src/storage/provider.ts';
import { sdkClient } from '../test/helpers/storage.ts';
import { processUsage, startScript } from './helpers.ts';

const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1024);
const runs = Number(process.env.BENCH_RUNS ?? 2);
const modes = (process.env.BENCH_MODES ?? 'sdk-default,unsigned,curl-presigned').split(',') as Mode[];
const dir = mkdtempSync(path.join(process.env.BENCH_DIR ?? tmpdir(), 'skyvault-bench-'));
const source = path.join(dir, 'source.bin');

async function writeSource(): Promise<string> {
  const hash = createHash('md5');
  const out = createWriteStream(source);
  const block = 8 * 1024 * 1024;
  for (let written = 0; written < sizeMb * 1024 * 1024; written += block) {
    const chunk = randomBytes(Math.min(block, sizeMb * 1024 * 1024 - written));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  return hash.digest('hex');
}

function timed<T>(fn: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  return Promise.resolve(fn()).then((value) => ({
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    value,
  }));
}

function sync(): void {
  execFileSync('sync');
}

async function plainCopy(): Promise<number> {
  const target = path.join(dir, 'copy.bin');
  const { seconds } = await timed(() => {
    execFileSync('cp', [source, target]);
    sync();
  });
  rmSync(target);
  return seconds;
}

async function nodeCopy(): Promise<number> {
  const target = path.join(dir, 'node-copy.bin');
  const { seconds } = await timed(async () => {
    await pipeline(createReadStream(source), createWriteStream(target));
    sync();
  });
  rmSync(target);
  return seconds;
}

type Mode = 'sdk-default' | 'unsigned' | 'curl-presigned';

/** The same userspace work the server must do besides HTTP: read, MD5 (the ETag), write. */
async function nodeCopyWithMd5(): Promise<number> {
  const target = path.join(dir, 'node-copy-md5.bin');
  const { seconds } = await timed(async () => {
    const hash = createHash('md5');
    const source$ = createReadStream(source);
    source$.on('data', (chunk) => hash.update(chunk));
    await pipeline(source$, createWriteStream(target));
    hash.digest('hex');
    sync();
  });
  rmSync(target);
  return seconds;
}

async function upload(
  mode: Mode,
  md5: string,
): Promise<{ seconds: number; rssMb: number; cpuSeconds: number }> {
  const serverDir = mkdtempSync(path.join(dir, 'server-'));
  const server = await startScript<UploadCredentials>('bench/storage-server.ts', [serverDir]);
  try {
    const credentials = server.ready;
    const client = sdkClient(credentials, {
      maxAttempts: 3,
      ...(mode === 'sdk-default' ? {} : { requestChecksumCalculation: 'WHEN_REQUIRED' as const }),
    });
    const command = new PutObjectCommand({ Bucket: credentials.bucket, Key: 'bench/big.bin' });
    const url = mode === 'curl-presigned' ? await getSignedUrl(client, command, { expiresIn: 600 }) : '';
    const { seconds, value } = await timed(async () => {
      let etag: string | undefined;
      if (mode === 'curl-presigned') {
        const headers = execFileSync('curl', ['-sS', '-f', '-D', '-', '-o', '/dev/null', '-T', source, url], {
          encoding: 'utf8',
        });
        etag = /^etag: (.+?)\r?$/im.exec(headers)?.[1];
      } else {
        const result = await client.send(
          new PutObjectCommand({
            Bucket: credentials.bucket,
            Key: 'bench/big.bin',
            Body: createReadStream(source),
            ContentLength: statSync(source).size,
          }),
        );
        etag = result.ETag;
      }
      sync();
      return etag;
    });
    client.destroy();
    if (value !== `"${md5}"`) throw new Error(`ETag ${value} is not the MD5 ${md5}`);
    const { peakRssMb: rssMb, cpuSeconds } = processUsage(server.child.pid!);
    return { seconds, rssMb, cpuSeconds };
  } finally {
    await server.stop();
    rmSync(serverDir, { recursive: true, force: true });
  }
}

const md5 = await writeSource();
sync();
const rows: string[] = [];
const mbps = (seconds: number) => (sizeMb / seconds).toFixed(0);
const copies: number[] = [];
const nodeCopies: number[] = [];
const md5Copies: number[] = [];
const uploads: Record<Mode, { seconds: number; rssMb: number; cpuSeconds: number }[]> = {
  'sdk-default': [],
  unsigned: [],
  'curl-presigned': [],
};
for (let run = 0; run < runs; run++) {
  copies.push(await plainCopy());
  nodeCopies.push(await nodeCopy());
  md5Copies.push(await nodeCopyWithMd5());
  for (const mode of modes) uploads[mode].push(await upload(mode, md5));
}
const best = (values: number[]) => Math.min(...values);
const baseline = best(copies);
rows.push(
  `PUT of ${sizeMb} MiB, ${runs} runs each, best run; baseline = cp + sync of the same file on the same disk`,
);
rows.push('| what | seconds (runs) | MiB/s | ratio to cp | server peak RSS | server CPU s |');
rows.push('|---|---|---|---|---|---|');
rows.push(
  `| cp + sync (baseline) | ${copies.map((s) => s.toFixed(2)).join(', ')} | ${mbps(baseline)} | 1.00 | – | – |`,
);
rows.push(
  `| Node stream copy + sync | ${nodeCopies.map((s) => s.toFixed(2)).join(', ')} | ${mbps(best(nodeCopies))} | ${(baseline / best(nodeCopies)).toFixed(2)} | – | – |`,
);
rows.push(
  `| Node stream copy + MD5 + sync | ${md5Copies.map((s) => s.toFixed(2)).join(', ')} | ${mbps(best(md5Copies))} | ${(baseline / best(md5Copies)).toFixed(2)} | – | – |`,
);
for (const [mode, results] of Object.entries(uploads).filter(([, r]) => r.length > 0)) {
  const fastest = best(results.map((r) => r.seconds));
  rows.push(
    `| S3 PUT, ${mode} | ${results.map((r) => r.seconds.toFixed(2)).join(', ')} | ${mbps(fastest)} | ${(baseline / fastest).toFixed(2)} | ${Math.max(...results.map((r) => r.rssMb)).toFixed(0)} MB | ${results.map((r) => r.cpuSeconds.toFixed(1)).join(', ')} |`,
  );
}
process.stdout.write(`${rows.join('\n')}\n`);
rmSync(dir, { recursive: true, force: true });
