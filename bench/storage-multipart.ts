/**
 * Benchmark: a 10,000-part multipart upload through the embedded S3 endpoint (the most S3 allows),
 * then a full read-back, against a single PUT of the same bytes in the same run. Shows that completion
 * does not copy data, that reading streams part after part, and that server memory stays flat.
 * S3's 5 MiB minimum part size is lowered for the run (BENCH_PART_KB, 64 by default) so that 10,000
 * parts fit on a small disk. Run: `npm run bench -- storage-multipart`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { UploadCredentials } from '../src/storage/provider.ts';
import { sdkClient } from '../test/helpers/storage.ts';
import { processUsage, startScript } from './helpers.ts';
import { compared, recordFigures } from './report.ts';

const parts = Number(process.env.BENCH_PARTS ?? 10_000);
const partBytes = Number(process.env.BENCH_PART_KB ?? 64) * 1024;
const concurrency = 16;
const dir = mkdtempSync(path.join(process.env.BENCH_DIR ?? tmpdir(), 'skyvault-bench-mp-'));

const server = await startScript<UploadCredentials>('bench/storage-server.ts', [dir], {
  BENCH_MIN_PART_SIZE: String(partBytes),
});
const serverRss = () => processUsage(server.child.pid!).peakRssMb;
const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

try {
  const credentials = server.ready;
  const s3 = sdkClient(credentials, { maxAttempts: 3 });
  const Bucket = credentials.bucket;
  // Part i is the block repeated with its number stamped in, so the read-back checks order.
  const block = randomBytes(partBytes);
  const partBody = (i: number) => {
    const body = Buffer.from(block);
    body.writeUInt32BE(i, 0);
    return body;
  };
  const expected = createHash('md5');
  for (let i = 1; i <= parts; i++) expected.update(partBody(i));
  const expectedMd5 = expected.digest('hex');
  const rssAtStart = serverRss();

  let start = process.hrtime.bigint();
  const whole = Buffer.concat(Array.from({ length: parts }, (_, i) => partBody(i + 1)));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'bench/single.bin', Body: whole }));
  const singleSeconds = seconds(start);

  start = process.hrtime.bigint();
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'bench/multi.bin' }));
  const etags: string[] = new Array(parts);
  let next = 1;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let n = next++; n <= parts; n = next++) {
        const result = await s3.send(
          new UploadPartCommand({
            Bucket,
            Key: 'bench/multi.bin',
            UploadId,
            PartNumber: n,
            Body: partBody(n),
          }),
        );
        etags[n - 1] = result.ETag!;
      }
    }),
  );
  const uploadSeconds = seconds(start);
  start = process.hrtime.bigint();
  const completed = await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key: 'bench/multi.bin',
      UploadId,
      MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
    }),
  );
  const completeSeconds = seconds(start);

  start = process.hrtime.bigint();
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'bench/multi.bin' }));
  const readBack = createHash('md5');
  for await (const chunk of got.Body as AsyncIterable<Uint8Array>) readBack.update(chunk);
  const readSeconds = seconds(start);
  const readMd5 = readBack.digest('hex');
  s3.destroy();
  if (readMd5 !== expectedMd5) throw new Error(`read-back MD5 ${readMd5} differs from ${expectedMd5}`);
  if (!completed.ETag?.endsWith(`-${parts}"`)) throw new Error(`unexpected ETag ${completed.ETag}`);

  const mib = (parts * partBytes) / 1024 / 1024;
  process.stdout.write(
    [
      `${parts} parts of ${partBytes / 1024} KiB (${mib.toFixed(0)} MiB), ${concurrency} parts in flight; read-back MD5 verified`,
      '| step | seconds | MiB/s | ratio to single PUT |',
      '|---|---|---|---|',
      `| single PUT of the same bytes (baseline) | ${singleSeconds.toFixed(2)} | ${(mib / singleSeconds).toFixed(0)} | 1.00 |`,
      `| ${parts} UploadPart requests | ${uploadSeconds.toFixed(2)} | ${(mib / uploadSeconds).toFixed(0)} | ${(singleSeconds / uploadSeconds).toFixed(2)} |`,
      `| CompleteMultipartUpload | ${completeSeconds.toFixed(2)} | – | – |`,
      `| GET of the multipart object | ${readSeconds.toFixed(2)} | ${(mib / readSeconds).toFixed(0)} | – |`,
      `server peak RSS: ${serverRss().toFixed(0)} MB (${rssAtStart.toFixed(0)} MB once started)`,
    ].join('\n') + '\n',
  );
  const single = { name: 'single PUT of the same bytes', value: mib / singleSeconds };
  recordFigures(
    `storage-multipart, ${parts} parts of ${partBytes / 1024} KiB, ${concurrency} in flight`,
    [
      compared('UploadPart requests', mib / uploadSeconds, 'MiB/s', single, 'higher'),
      { name: 'time per part', value: (uploadSeconds * 1000) / parts, unit: 'ms' },
      { name: 'CompleteMultipartUpload', value: completeSeconds, unit: 's' },
      compared('GET of the multipart object', mib / readSeconds, 'MiB/s', single, 'higher'),
      compared('server peak RSS', serverRss(), 'MB', { name: 'once started', value: rssAtStart }, 'lower'),
    ],
    { parts, partKiB: partBytes / 1024, mib },
  );
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
