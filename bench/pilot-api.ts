/**
 * Benchmark: server CPU time per request of Skyvault's HTTP endpoints, against a bare node:http JSON
 * responder measured the same way in the same run (the floor of any Node HTTP server). On a 2-core
 * machine shared with the load generator, requests per second measure the load generator as much as the
 * server; the CPU the server's own process spends per request depends far less on it. So each scenario is
 * one autocannon window over loopback (BENCH_CONNECTIONS connections, keep-alive) after an unmeasured 1 s
 * warm-up, and the server's CPU (user + system, from /proc/<pid>/stat) is read before it and once the
 * server is done with the requests still in flight when it closed, and divided by the requests sent;
 * req/s, p50 and p99 are reported too, as information. The bare responder and Skyvault (`skyvault
 * serve`) each run in their own child process; autocannon runs in this one.
 *
 * Scenarios, in this order, each checked (status, and the envelope's `code` 0 or the expected body):
 *  1. the bare node:http responder (bench/bare-json-server.ts), given the upload-callback body: the baseline;
 *  2. Fastify's 404 on Skyvault: POST of the same body to an unknown path (404 expected);
 *  3. GET /healthz (one trivial query; the embedded store is in-process);
 *  4. fast-upload, a hit (lookup + storage HEAD);
 *  5. upload-callback, a repeated report (storage HEAD + lookups; nothing to write);
 *  6. upload-callback, first reports of BENCH_NEW_FILES new files (each records a file and queues its
 *     enrichment; a fixed number of requests rather than a duration). The enrichment of those files
 *     (1 KiB objects that are no picture: each fails fast) partly runs within the window, so is partly
 *     counted; what runs after it, until the server is idle, is reported apart;
 *  7. tiny-fingerprints, 100 items, half of them held (files of scenario 6 and the library's page), half
 *     unknown: POST …/files/tiny-fingerprints with `{"tiny_fingerprints": […]}` (docs/protocol.md §3.3);
 *  8. the web library's first page: GET /api/v1/workspaces/{ws}/media?limit=200 (the web app's page size)
 *     with a web login's token (flag 1), in the workspace holding every file above; the page is 200 files
 *     reported during the setup with a later capture time and real (small) JPEGs, so each has a
 *     thumbnail and the page carries 200 presigned thumbnail URLs, as a real library's does.
 * The bare responder is measured again after each of Skyvault's windows (min(BENCH_SECONDS, 2) s each):
 * other work on the machine comes and goes during a run and moves every figure, CPU per request too, so
 * the baseline is the median of its windows (all of them are printed). Before each window the benchmark
 * waits for the server to be idle (enrichment done), so no background work of the setup or of an earlier
 * scenario is counted in it.
 *
 * Goals (ratio of server CPU per request to the bare responder's): fast-upload ≤ 2, repeated
 * upload-callback ≤ 2.5, first report ≤ 5. With BENCH_DATABASE_URL (PostgreSQL) the CPU of PostgreSQL's
 * processes on this machine (named `postgres`) over the same window is added ("Node + backend"), with the
 * goal ≤ 4 for those three. It is counted process by process, without the backends of other databases;
 * other work's share of the shared processes (WAL writer, checkpointer…) would still be counted. On
 * PostgreSQL the benchmark also runs VACUUM ANALYZE (what autovacuum does in a running deployment) after
 * the setup and after the first reports, as the server it runs on may have autovacuum off; without
 * statistics the library's page scans and sorts the whole workspace.
 *
 * Run: `npm run bench -- pilot-api`. Knobs: BENCH_SECONDS (10, per window), BENCH_CONNECTIONS (10),
 * BENCH_NEW_FILES (4000), BENCH_DATABASE_URL=postgres://… (a fresh database created on that server, dropped
 * at the end, instead of SQLite), BENCH_SKIP_ANALYZE=1 (PostgreSQL without planner statistics),
 * BENCH_SERVER_NODE_ARGS (Node options of the server, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof-api`).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import autocannon from 'autocannon';
import pg from 'pg';
import sharp from 'sharp';
import {
  benchDatabase,
  pilotSession,
  postJson,
  processUsage,
  startScript,
  startSkyvault,
  type Started,
  type StartedSkyvault,
} from './helpers.ts';
import { compared, type Figure, recordFigures } from './report.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const fresh = Number(process.env.BENCH_NEW_FILES ?? 4000);
/** The web app's page (web/src/pages/LibraryPage.tsx). */
const LIBRARY_PAGE = 200;
const TINY_ITEMS = 100;
/** Server CPU over IDLE_SAMPLE_MS below which it is idle: 4% of a core. */
const IDLE_SAMPLE_MS = 500;
const IDLE_CPU_SECONDS = 0.02;
/** An unmeasured window before each scenario's (JIT, caches, connections). */
const WARM_UP_SECONDS = 1;
/** The bare responder's windows after each scenario, at most this long. */
const BARE_AGAIN_SECONDS = 2;
/** How long the server may stay busy before a window: enrichment of the new files included. */
const SETTLE_TIMEOUT_MS = 180_000 + fresh * 10;
for (const [knob, value] of Object.entries({ BENCH_SECONDS: seconds, BENCH_CONNECTIONS: connections })) {
  if (!(value > 0)) throw new Error(`${knob} must be a positive number`);
}
if (!Number.isInteger(fresh) || fresh < 1) throw new Error('BENCH_NEW_FILES must be a positive integer');

const dir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-api-'));
const password = 'bench-password';

/** What one autocannon window measured. */
interface Measured {
  /** Short, for the runner's figures. */
  name: string;
  /** Longer, for the printed table. */
  label: string;
  requests: number;
  rate: number;
  p50: number;
  p99: number;
  /** Server (Node) CPU µs per request. */
  cpuUs: number;
  /** PostgreSQL's processes' CPU µs per request (0 on SQLite). */
  backendUs: number;
  goal?: number;
}

interface Scenario {
  name: string;
  label: string;
  server: Started;
  url: string;
  method?: 'GET' | 'POST';
  body?: unknown;
  token?: string;
  /** 200 unless told. */
  status?: number;
  /** The start every answer's body must have. */
  bodyStart: string;
  /** Seconds of the window, BENCH_SECONDS unless told. */
  duration?: number;
  /** false: no unmeasured warm-up window before this one (there is one unless it has an `amount`). */
  warmUp?: false;
  /** A fixed number of requests, each body made by `makeBody`, instead of a duration. */
  amount?: number;
  makeBody?: () => string;
  goal?: number;
}

const database = await benchDatabase();
const onPostgres = database.url !== undefined;
let skyvault: StartedSkyvault | undefined;
let bare: (Started & { ready: { port: number } }) | undefined;
/** On PostgreSQL: a connection to the benchmark's database, telling its backends from other databases'. */
let monitor: pg.Client | undefined;
try {
  if (database.url) {
    monitor = new pg.Client({ connectionString: database.url });
    await monitor.connect();
  }
  skyvault = await startSkyvault({
    SKYVAULT_DATA_DIR: dir,
    SKYVAULT_ADMIN_PASSWORD: password,
    ...database.env,
  });
  bare = await startScript<{ port: number }>('bench/bare-json-server.ts');
  const bareUrl = `http://127.0.0.1:${bare.ready.port}/`;
  const { token, ws, bucket, prefix, s3 } = await pilotSession(skyvault.url, password);
  const media = `${skyvault.url}/media/api/v1/workspaces/${ws}`;
  const key = `${prefix}/DJI_20260101120000_0001_V.JPG`;
  await putAll(s3, bucket, [key], Buffer.alloc(4096));
  // Objects for the first-report scenario: each of these requests records a new file (a write, and
  // enrichment queued), unlike the repeated report, which changes nothing and so writes nothing.
  const freshKeys = Array.from({ length: fresh }, (_, i) => `${prefix}/new/DJI_${i}.JPG`);
  await putAll(s3, bucket, freshKeys, Buffer.alloc(1024));
  // The library's first page: real JPEGs (so enrichment makes their thumbnails), captured after the rest.
  const picture = await sharp({
    create: { width: 64, height: 48, channels: 3, background: { r: 90, g: 120, b: 200 } },
  })
    .jpeg()
    .toBuffer();
  const libraryKeys = Array.from({ length: LIBRARY_PAGE }, (_, i) => `${prefix}/library/DJI_${i}.JPG`);
  await putAll(s3, bucket, libraryKeys, picture);
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
  /** The report of a new file at `objectKey`, with its own fingerprints. */
  const reportOf = (objectKey: string, createdTime = callback.metadata.created_time) => {
    const name = objectKey.split('/').pop()!;
    return {
      ...callback,
      name,
      object_key: objectKey,
      fingerprint: md5(objectKey).toUpperCase(),
      ext: { ...callback.ext, tinny_fingerprint: tinyOf(objectKey) },
      metadata: { ...callback.metadata, created_time: createdTime },
    };
  };
  const first = await postJson<{ code: number }>(`${media}/upload-callback`, callback, token);
  if (first.code !== 0) throw new Error('the first upload-callback failed');
  for (let i = 0; i < libraryKeys.length; i += connections) {
    await Promise.all(
      libraryKeys.slice(i, i + connections).map(async (objectKey) => {
        const answer = await postJson<{ code: number }>(
          `${media}/upload-callback`,
          reportOf(objectKey, '2026-01-01T12:00:00+08:00'),
          token,
        );
        if (answer.code !== 0) throw new Error(`the report of ${objectKey} failed: code ${answer.code}`);
      }),
    );
  }
  const fastUpload = { fingerprint: callback.fingerprint, name: callback.name, path: '', ext: callback.ext };

  // The web library's user: a web login (flag 1), as web/src/pages/LoginPage.tsx does.
  type Login = { code: number; data: { access_token: string; workspace_id: string } };
  const webLogin = await postJson<Login>(`${skyvault.url}/manage/api/v1/login`, {
    username: 'admin',
    password,
    flag: 1,
  });
  if (webLogin.code !== 0 || webLogin.data.workspace_id !== ws) throw new Error('the web login failed');
  const webToken = webLogin.data.access_token;
  const libraryUrl = `${skyvault.url}/api/v1/workspaces/${ws}/media?limit=${LIBRARY_PAGE}`;
  await libraryReady(libraryUrl, webToken, new Set(libraryKeys.map((k) => k.split('/').pop()!)));

  // tiny-fingerprints: known ones spread over the files of scenario 6 and the library's, interleaved with
  // unknown ones (same shape). Which are held is checked once before the window.
  const knownPool = [...freshKeys, ...libraryKeys];
  const known = Array.from({ length: TINY_ITEMS / 2 }, (_, i) =>
    tinyOf(knownPool[Math.floor((i * knownPool.length) / (TINY_ITEMS / 2))]!),
  );
  const tinyList = known.flatMap((tiny, i) => [tiny, tinyOf(`unknown/${i}`)]);

  let next = 0;
  const scenarios: Scenario[] = [
    {
      name: 'bare node:http',
      label: 'bare node:http JSON responder (baseline)',
      server: bare,
      url: bareUrl,
      body: callback,
      bodyStart: '{"code":0,',
    },
    {
      name: 'Fastify 404',
      label: "Fastify's 404 on Skyvault (POST to an unknown path)",
      server: skyvault,
      url: `${skyvault.url}/bench/no-such-path`,
      body: callback,
      token,
      status: 404,
      bodyStart: '{"code":404,',
    },
    {
      name: 'GET /healthz',
      label: 'GET /healthz',
      server: skyvault,
      url: `${skyvault.url}/healthz`,
      method: 'GET',
      bodyStart: '{"status":"ok",',
    },
    {
      name: 'fast-upload',
      label: 'fast-upload (hit: lookup + storage HEAD)',
      server: skyvault,
      url: `${media}/fast-upload`,
      body: fastUpload,
      token,
      bodyStart: '{"code":0,',
      goal: 2,
    },
    {
      name: 'upload-callback, repeated report',
      label: 'upload-callback, repeated report (HEAD + lookups, nothing to write)',
      server: skyvault,
      url: `${media}/upload-callback`,
      body: callback,
      token,
      bodyStart: '{"code":0,',
      goal: 2.5,
    },
    {
      name: 'upload-callback, first report',
      label: `upload-callback, first reports of ${fresh} files (HEAD + lookups + insert)`,
      server: skyvault,
      url: `${media}/upload-callback`,
      token,
      bodyStart: '{"code":0,',
      amount: fresh,
      makeBody: () => JSON.stringify(reportOf(freshKeys[next++ % fresh]!)),
      goal: 5,
    },
    {
      name: `tiny-fingerprints (${TINY_ITEMS} items)`,
      label: `tiny-fingerprints, ${TINY_ITEMS} items (${known.length} held)`,
      server: skyvault,
      url: `${media}/files/tiny-fingerprints`,
      body: { tiny_fingerprints: tinyList },
      token,
      bodyStart: '{"code":0,',
    },
    {
      name: `library first page (${LIBRARY_PAGE})`,
      label: `web library: first page (${LIBRARY_PAGE} files, presigned thumbnails)`,
      server: skyvault,
      url: libraryUrl,
      method: 'GET',
      token: webToken,
      bodyStart: '{"code":0,',
    },
  ];

  // The bare responder again after each of Skyvault's windows (shorter ones): the machine's state (other
  // work on it) changes over a run, and the baseline is the median of all its windows, not one of them.
  const bareAgain: Scenario = {
    ...scenarios[0]!,
    duration: Math.min(seconds, BARE_AGAIN_SECONDS),
    warmUp: false,
  };

  const results: Measured[] = [];
  const bareWindows: Measured[] = [];
  const loadBefore = loadavg()[0]!;
  let backgroundUs = 0;
  for (const scenario of scenarios) {
    if (scenario.url.endsWith('/files/tiny-fingerprints')) {
      // Scenario 6 recorded the files whose tiny fingerprints are to be found: check the answer once.
      type Tiny = { code: number; data: { tiny_fingerprints: string[] } };
      const answer = await postJson<Tiny>(scenario.url, scenario.body, token);
      if (answer.code !== 0 || answer.data.tiny_fingerprints.join() !== known.join())
        throw new Error(
          `tiny-fingerprints answered ${answer.data.tiny_fingerprints.length} of the ${known.length} held`,
        );
    }
    await settle(skyvault.child.pid!);
    if (scenario === scenarios[1] || scenario.url.endsWith('/files/tiny-fingerprints')) await analyze();
    const measured = await measure(scenario);
    if (scenario.amount !== undefined) {
      // The enrichment the first reports queued, still running after the window.
      const end = processUsage(skyvault.child.pid!).cpuSeconds;
      await settle(skyvault.child.pid!);
      backgroundUs = ((processUsage(skyvault.child.pid!).cpuSeconds - end) * 1e6) / fresh;
    }
    if (scenario === scenarios[0]) bareWindows.push(measured);
    else {
      results.push(measured);
      bareWindows.push(await measure(bareAgain));
    }
  }
  const baseline: Measured = {
    ...bareWindows[0]!,
    label: `bare node:http JSON responder (baseline: medians of its ${bareWindows.length} windows)`,
    rate: median(bareWindows.map((w) => w.rate)),
    p50: median(bareWindows.map((w) => w.p50)),
    p99: median(bareWindows.map((w) => w.p99)),
    cpuUs: median(bareWindows.map((w) => w.cpuUs)),
    backendUs: median(bareWindows.map((w) => w.backendUs)),
  };
  results.unshift(baseline);
  const bareCpus = bareWindows.map((w) => w.cpuUs);
  const spread = Math.max(...bareCpus) / Math.min(...bareCpus);

  const times = (value: number) => `${value.toFixed(2)}×`;
  const goalCell = (ratio: number, goal: number | undefined) =>
    goal === undefined ? '' : `≤ ${goal}×: ${ratio <= goal ? 'met' : 'not met'}`;
  const header = onPostgres
    ? [
        '| scenario | req/s | p50 ms | p99 ms | server CPU µs/req | ratio to bare | goal | PostgreSQL CPU µs/req | Node + backend µs/req | ratio to bare | goal (Node + backend) |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
      ]
    : [
        '| scenario | req/s | p50 ms | p99 ms | server CPU µs/req | ratio to bare | goal |',
        '|---|---|---|---|---|---|---|',
      ];
  const rows = results.map((r) => {
    const ratio = r.cpuUs / baseline.cpuUs;
    const cells = [
      r.label,
      r.rate.toFixed(0),
      String(r.p50),
      String(r.p99),
      r.cpuUs.toFixed(0),
      times(ratio),
      goalCell(ratio, r.goal),
    ];
    if (onPostgres) {
      const both = (r.cpuUs + r.backendUs) / baseline.cpuUs;
      cells.push(
        r.backendUs.toFixed(0),
        (r.cpuUs + r.backendUs).toFixed(0),
        times(both),
        goalCell(both, r.goal === undefined ? undefined : 4),
      );
    }
    return `| ${cells.join(' | ')} |`;
  });
  process.stdout.write(
    [
      `${connections} connections, ${seconds} s a window (first reports: ${fresh} requests), loopback; ` +
        `database: ${onPostgres ? 'PostgreSQL' : 'SQLite'}; storage: embedded. ` +
        'CPU: user + system of the server process over the window and its tail, per request sent. ' +
        `Load average ${loadBefore.toFixed(1)} at the first window, ${loadavg()[0]!.toFixed(1)} after the last.`,
      '',
      ...header,
      ...rows,
      '',
      `After the first reports' window the server spent another ${backgroundUs.toFixed(0)} µs per first ` +
        'report (their enrichment) before it was idle; not counted above.',
      `The bare responder's CPU per request in its windows (the first before the scenarios, then one ` +
        `after each): ${bareCpus.map((v) => v.toFixed(0)).join(', ')} µs.` +
        (spread > 1.5
          ? ` They differ by ${times(spread)}: the machine was busier at times (other work on it), so ` +
            'the ratios of this run are rough.'
          : ''),
    ].join('\n') + '\n',
  );

  const figures: Figure[] = [];
  const bareCpu = { name: 'bare node:http', value: baseline.cpuUs };
  const bareRate = { name: 'bare node:http', value: baseline.rate };
  for (const r of results) {
    const cpu = `${r.name}: server CPU per request`;
    const rate = `${r.name}: requests per second`;
    if (r === baseline) {
      figures.push({ name: cpu, value: r.cpuUs, unit: 'µs/request' });
      figures.push({ name: rate, value: r.rate, unit: 'req/s' });
      continue;
    }
    figures.push(compared(cpu, r.cpuUs, 'µs/request', bareCpu, 'lower', r.goal));
    figures.push(compared(rate, r.rate, 'req/s', bareRate, 'higher'));
    if (onPostgres)
      figures.push(
        compared(
          `${r.name}: Node + backend CPU per request`,
          r.cpuUs + r.backendUs,
          'µs/request',
          bareCpu,
          'lower',
          r.goal === undefined ? undefined : 4,
        ),
      );
  }
  recordFigures(`pilot-api (${onPostgres ? 'PostgreSQL' : 'SQLite'})`, figures, {
    connections,
    seconds,
    newFiles: fresh,
    backgroundCpuUsPerFirstReport: Math.round(backgroundUs),
    bareWindowsCpuUs: bareCpus.map((v) => Math.round(v * 10) / 10),
  });
} finally {
  await monitor?.end().catch(() => undefined);
  await bare?.stop();
  await skyvault?.stop();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
}

/** One measured autocannon window, server (and PostgreSQL) CPU included; throws on unexpected answers. */
async function measure(scenario: Scenario): Promise<Measured> {
  const status = scenario.status ?? 200;
  const method = scenario.method ?? 'POST';
  const headers: Record<string, string> = {};
  if (scenario.body !== undefined || scenario.makeBody) headers['content-type'] = 'application/json';
  if (scenario.token) headers['x-auth-token'] = scenario.token;
  const pid = scenario.server.child.pid!;
  const makeBody = scenario.makeBody;
  const options: autocannon.Options = {
    url: scenario.url,
    connections,
    ...(scenario.amount !== undefined
      ? { amount: scenario.amount }
      : { duration: scenario.duration ?? seconds }),
    verifyBody: (body) => String(body).startsWith(scenario.bodyStart),
    requests: [
      {
        method,
        headers,
        ...(scenario.body !== undefined ? { body: JSON.stringify(scenario.body) } : {}),
        ...(makeBody ? { setupRequest: (request) => ({ ...request, body: makeBody() }) } : {}),
      },
    ],
  };
  const checked = (result: autocannon.Result, warmUp = false) => {
    const answered = result.statusCodeStats?.[`${status}`]?.count ?? 0;
    const others = Object.entries(result.statusCodeStats ?? {})
      .filter(([code]) => code !== `${status}`)
      .map(([code, stats]) => `${stats.count ?? 0} × ${code}`);
    if (others.length > 0 || result.errors > 0 || result.mismatches > 0 || (answered === 0 && !warmUp))
      throw new Error(
        `${scenario.name} (${method} ${scenario.url}): ${answered} answers ${status}` +
          `${others.length ? `, ${others.join(', ')}` : ''}, ${result.mismatches} unexpected bodies, ` +
          `${result.errors} errors (${result.timeouts} timeouts)`,
      );
    if (scenario.amount !== undefined && result.requests.total !== scenario.amount)
      throw new Error(`${scenario.name}: ${result.requests.total} of ${scenario.amount} requests answered`);
    return result;
  };
  if (scenario.warmUp !== false && scenario.amount === undefined) {
    checked(await autocannon({ ...options, duration: WARM_UP_SECONDS }), true);
    await settle(pid);
  }
  const backendBefore = monitor ? postgresTicks() : undefined;
  const before = processUsage(pid).cpuSeconds;
  // autocannon ends a fixed number of requests at its next once-a-second look, and its start and finish
  // are those looks: 4,000 requests done in 5.2 s read as 6 s. Their rate is timed here, to the last
  // response.
  const startedAt = performance.now();
  let lastResponseAt = startedAt;
  // The promise autocannon returns is also the run's event emitter (its types omit it).
  const running = autocannon(options) as ReturnType<typeof autocannon> & {
    on(event: 'response', listener: () => void): void;
  };
  running.on('response', () => {
    lastResponseAt = performance.now();
  });
  const result = checked(await running);
  const elapsedMs = lastResponseAt - startedAt;
  // A window of a duration ends with requests in flight, which the server still handles: counted, once
  // it is done with them (a fixed number of requests ends with none).
  if (scenario.amount === undefined) await settle(pid);
  const cpu = processUsage(pid).cpuSeconds - before;
  const backend = backendBefore ? await postgresCpuSince(backendBefore) : 0;
  const requests = result.requests.sent;
  return {
    name: scenario.name,
    label: scenario.label,
    requests,
    rate:
      (result.requests.total * 1000) /
      (scenario.amount === undefined ? result.finish.getTime() - result.start.getTime() : elapsedMs),
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUs: (cpu * 1e6) / requests,
    backendUs: (backend * 1e6) / requests,
    ...(scenario.goal !== undefined ? { goal: scenario.goal } : {}),
  };
}

/**
 * On PostgreSQL, what autovacuum does in a running deployment after the setup's and the first reports'
 * inserts (the server here may run without it): VACUUM ANALYZE, unless BENCH_SKIP_ANALYZE=1.
 */
async function analyze(): Promise<void> {
  if (monitor && process.env.BENCH_SKIP_ANALYZE !== '1') await monitor.query('VACUUM ANALYZE');
}

/** CPU ticks used so far by each process named `postgres` on this machine, by pid. */
function postgresTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch {
      // Exited meanwhile.
    }
  }
  return ticks;
}

/**
 * CPU seconds PostgreSQL's processes spent since `before`, counted process by process (a process
 * started since counts whole; one that exited since is left out, rather than subtracting all it ever
 * used, as a sum over the processes alive at each end would), without the backends of other databases
 * nor the monitor's own: Skyvault's backends and the shared ones (WAL writer, checkpointer, autovacuum…).
 */
async function postgresCpuSince(before: Map<number, number>): Promise<number> {
  const after = postgresTicks();
  const others = await monitor!.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' " +
      'AND (datname IS DISTINCT FROM current_database() OR pid = pg_backend_pid())',
  );
  for (const { pid } of others.rows) after.delete(pid);
  let ticks = 0;
  for (const [pid, used] of after) ticks += used - (before.get(pid) ?? 0);
  return ticks / 100;
}

/**
 * Waits until the process is idle (background work done), so that none of it is counted in a window:
 * at most IDLE_CPU_SECONDS of CPU over IDLE_SAMPLE_MS.
 */
async function settle(pid: number): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let last = processUsage(pid).cpuSeconds;
  for (;;) {
    await sleep(IDLE_SAMPLE_MS);
    const now = processUsage(pid).cpuSeconds;
    if (now - last <= IDLE_CPU_SECONDS) return;
    if (Date.now() > deadline) {
      // Not idle (a profiler's own sampling on a busy machine can keep it above the threshold): go on,
      // saying so, as the next window may count some of that work.
      process.stderr.write(`warning: process ${pid} still busy after ${SETTLE_TIMEOUT_MS} ms; going on\n`);
      return;
    }
    last = now;
  }
}

/** Waits until every file on the library's first page is one of `names` and has its thumbnail. */
async function libraryReady(url: string, webToken: string, names: Set<string>): Promise<void> {
  type Page = {
    code: number;
    data: { items: { name: string; thumbnail_url: string | null; enrichment_error: string | null }[] };
  };
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const response = await fetch(url, { headers: { 'x-auth-token': webToken } });
    const page = (await response.json()) as Page;
    if (!response.ok || page.code !== 0)
      throw new Error(`the library's first page answered ${response.status}`);
    const failed = page.data.items.find((item) => item.enrichment_error);
    if (failed) throw new Error(`${failed.name} could not be enriched: ${failed.enrichment_error}`);
    if (page.data.items.length !== names.size || page.data.items.some((item) => !names.has(item.name)))
      throw new Error("the library's first page does not hold the files made for it");
    if (page.data.items.every((item) => item.thumbnail_url)) return;
    if (Date.now() > deadline) throw new Error("the library's thumbnails were not made in time");
    await sleep(250);
  }
}

async function putAll(s3: S3Client, bucket: string, keys: string[], body: Buffer): Promise<void> {
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(
      keys
        .slice(i, i + 50)
        .map((Key) =>
          s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body, ContentType: 'image/jpeg' })),
        ),
    );
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/** A tiny fingerprint of DJI's shape (docs/protocol.md §9), unique to `key`. */
function tinyOf(key: string): string {
  return `${md5(key)}_2021_12_2_16_17_8`;
}
