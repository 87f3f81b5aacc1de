/**
 * Benchmark: requests per second of DJI Pilot 2's fast-upload (a hit: database lookup plus a storage
 * HEAD) and upload-callback (a repeated report, which changes nothing, and first reports of new files,
 * which insert and queue enrichment), against a bare node:http JSON responder measured in the same run,
 * all with autocannon over loopback.
 * Run: `npm run bench -- pilot-api` (BENCH_SECONDS=10, BENCH_CONNECTIONS=10; BENCH_DATABASE_URL=postgres://…
 * runs on a fresh PostgreSQL database created on that server instead of SQLite).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import autocannon from 'autocannon';
import { benchDatabase, pilotSession, postJson, startScript, startSkyvault } from './helpers.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const dir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-api-'));
const password = 'bench-password';

const database = await benchDatabase();
const skyvault = await startSkyvault({
  SKYVAULT_DATA_DIR: dir,
  SKYVAULT_ADMIN_PASSWORD: password,
  ...database.env,
});
const bare = await startScript<{ port: number }>('bench/bare-json-server.ts');
try {
  const { token, ws, bucket, prefix, s3 } = await pilotSession(skyvault.url, password);
  const key = `${prefix}/DJI_20260101120000_0001_V.JPG`;
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: Buffer.alloc(4096),
      ContentType: 'image/jpeg',
    }),
  );
  // Objects for the first-report scenario: each of these requests records a new file (a write, and
  // enrichment queued), unlike the repeated report above, which changes nothing and so writes nothing.
  const fresh = Number(process.env.BENCH_NEW_FILES ?? 4000);
  const freshKeys = Array.from({ length: fresh }, (_, i) => `${prefix}/new/DJI_${i}.JPG`);
  for (let i = 0; i < fresh; i += 50) {
    await Promise.all(
      freshKeys.slice(i, i + 50).map((Key) =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key,
            Body: Buffer.alloc(1024),
            ContentType: 'image/jpeg',
          }),
        ),
      ),
    );
  }
  s3.destroy();
  const callback = {
    result: 0,
    name: 'DJI_20260101120000_0001_V.JPG',
    path: 'wayline',
    object_key: key,
    fingerprint: '91F613D796709163A519D8E5C872823D',
    sub_file_type: 0,
    ext: {
      file_group_id: 'group',
      drone_model_key: '0-67-0',
      payload_model_key: '1-53-0',
      is_original: true,
      tinny_fingerprint: '045040860fb014916c81082407e9ff8b_2021_12_2_16_17_8',
      sn: '1581F5BKD225D00BJ6N1',
    },
    metadata: {
      absolute_altitude: 56.3,
      relative_altitude: 41.1,
      gimbal_yaw_degree: -91.4,
      created_time: '2021-12-02T16:17:07+08:00',
      shoot_position: { lat: 22.58, lng: 113.94 },
    },
  };
  const first = await postJson<{ code: number }>(
    `${skyvault.url}/media/api/v1/workspaces/${ws}/upload-callback`,
    callback,
    token,
  );
  if (first.code !== 0) throw new Error('the first upload-callback failed');
  const fastUpload = { fingerprint: callback.fingerprint, name: callback.name, path: '', ext: callback.ext };

  const run = async (url: string, body: unknown) => {
    const result = await autocannon({
      url,
      method: 'POST',
      connections,
      duration: seconds,
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify(body),
    });
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
    return result;
  };
  const baseline = await run(`http://127.0.0.1:${bare.ready.port}/`, callback);
  const fast = await run(`${skyvault.url}/media/api/v1/workspaces/${ws}/fast-upload`, fastUpload);
  const report = await run(`${skyvault.url}/media/api/v1/workspaces/${ws}/upload-callback`, callback);
  let next = 0;
  const firstReports = await autocannon({
    url: `${skyvault.url}/media/api/v1/workspaces/${ws}/upload-callback`,
    connections,
    amount: fresh,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-auth-token': token },
        setupRequest: (request) => {
          const objectKey = freshKeys[next++ % fresh]!;
          const name = objectKey.split('/').pop()!;
          const ext = { ...callback.ext, tinny_fingerprint: `tiny-${name}` };
          const body = { ...callback, name, object_key: objectKey, fingerprint: `FP-${name}`, ext };
          return { ...request, body: JSON.stringify(body) };
        },
      },
    ],
  });
  if (firstReports.non2xx > 0 || firstReports.errors > 0) throw new Error('first reports failed');
  const rate = (r: autocannon.Result) => (r.requests.total * 1000) / (r.finish.getTime() - r.start.getTime());
  const row = (name: string, r: autocannon.Result) =>
    `| ${name} | ${rate(r).toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${(rate(r) / rate(baseline)).toFixed(2)} |`;
  process.stdout.write(
    [
      `${connections} connections, ${seconds} s each, loopback; database: ${database.url ? 'PostgreSQL' : 'SQLite'}; storage: embedded`,
      '| endpoint | req/s | p50 ms | p99 ms | ratio to bare node:http |',
      '|---|---|---|---|---|',
      row('bare node:http JSON responder (baseline)', baseline),
      row('fast-upload (hit: lookup + storage HEAD)', fast),
      row('upload-callback, repeated report (HEAD + lookup, nothing to write)', report),
      row(`upload-callback, first report of ${fresh} files (HEAD + lookups + insert)`, firstReports),
    ].join('\n') + '\n',
  );
} finally {
  await bare.stop();
  await skyvault.stop();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
}
