/** Shared by the benchmarks: start `skyvault serve` or a helper script in a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { createFreshDatabase } from '../test/helpers/databases.ts';
import { bundleIsCurrent, readyAndIdle } from './start-measure.ts';
import { sdkClient } from '../test/helpers/storage.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

export interface Started {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** What startSkyvault resolves with, besides the child process. */
export interface StartedSkyvault extends Started {
  /** The HTTP URL of the web UI and APIs. */
  url: string;
  /** The embedded MQTT broker as MQTT.js wants it (`mqtt://127.0.0.1:<port>`); undefined with an external one. */
  mqttUrl: string | undefined;
  /** The server's JSON log lines on stdout, as they come (warn and above by default). */
  log: string[];
}

/**
 * The environment of a process that runs Skyvault's code (`skyvault serve`, a helper server): this
 * process's, without any SKYVAULT_* variable inherited from whoever started the benchmark, plus `env`.
 * A benchmark passes every setting its server needs explicitly, so an operator's SKYVAULT_DATA_DIR or
 * SKYVAULT_DATABASE_URL in the shell can never point a benchmark at real data. BENCH_* pass through.
 */
export function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('SKYVAULT_'));
  return { ...Object.fromEntries(inherited), ...env };
}

/** Starts `skyvault serve` with `env` (and no inherited SKYVAULT_*); resolves once it is ready. */
export async function startSkyvault(env: Record<string, string>): Promise<StartedSkyvault> {
  // BENCH_SERVER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the server under load.
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'bin/skyvault.js'), 'serve'], {
    env: childEnv({
      SKYVAULT_HOST: '127.0.0.1',
      SKYVAULT_HTTP_PORT: '0',
      SKYVAULT_STORAGE_PORT: '0',
      SKYVAULT_MQTT_PORT: '0',
      SKYVAULT_LOG_LEVEL: 'warn',
      ...env,
    }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const log: string[] = [];
  const { url, mqttUrl } = await new Promise<{ url: string; mqttUrl: string | undefined }>(
    (resolve, reject) => {
      let url: string | undefined;
      let mqttUrl: string | undefined;
      let ready = false;
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (line.startsWith('{')) {
          log.push(line);
          return;
        }
        if (ready) return;
        const web = /Web and API:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (web) url = web[1]!;
        const mqtt = /MQTT \(devices\):\s+tcp:\/\/([^\s/]+:\d+) \(embedded broker/.exec(line);
        if (mqtt) mqttUrl = `mqtt://${mqtt[1]!}`;
        // The banner's MQTT line follows the web one; "Data directory" comes after both.
        if (url && /^\s*Data directory:/.test(line)) {
          ready = true;
          resolve({ url, mqttUrl });
        }
      });
      child.once('exit', (code) => reject(new Error(`skyvault serve exited with ${code}`)));
    },
  );
  return { child, url, mqttUrl, log, stop: () => stop(child) };
}

/** How a start went: from spawning `skyvault serve` to its first `/healthz` 200, and its memory idle. */
export interface TimedStart {
  server: StartedSkyvault;
  /** Milliseconds from the spawn to the first 200 from /healthz. */
  readyMs: number;
  /** Resident memory (VmRSS, MB) `idleMs` after ready, with no request in between. */
  idleRssMb: number;
  /** Whether it ran the bundle; false: its sources through tsx, the bundle being older (start-measure.ts). */
  bundle: boolean;
}

/**
 * Starts `skyvault serve` as startSkyvault does and measures it as bench/startup.ts does: time to the
 * first `/healthz` 200, then the resident memory after `idleMs` of doing nothing.
 */
export async function startTimed(env: Record<string, string>, idleMs = 2000): Promise<TimedStart> {
  const bundle = bundleIsCurrent();
  const started = performance.now();
  const server = await startSkyvault(env);
  return { server, bundle, ...(await readyAndIdle(server.url, server.child.pid!, started, idleMs)) };
}

/**
 * `runs` timed starts (startTimed), each stopped before the next but the last, which is left running:
 * the median time to ready and the median idle RSS, as one start is at the mercy of whatever else the
 * machine (a checkpoint, another benchmark) does in that second.
 */
export async function startTimedMedian(env: Record<string, string>, runs = 3): Promise<TimedStart> {
  const starts: TimedStart[] = [];
  for (let run = 1; run <= runs; run++) {
    const timed = await startTimed(env);
    starts.push(timed);
    if (run < runs) await timed.server.stop();
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return {
    server: starts.at(-1)!.server,
    readyMs: median(starts.map((s) => s.readyMs)),
    idleRssMb: median(starts.map((s) => s.idleRssMb)),
    bundle: starts.every((s) => s.bundle),
  };
}

/**
 * Starts a TypeScript helper that prints one JSON line when ready; resolves with that line parsed. Its
 * environment is `env` over this process's, without inherited SKYVAULT_* (childEnv).
 */
export async function startScript<T>(
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Started & { ready: T }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: childEnv(env),
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, ready: JSON.parse(line) as T, stop: () => stop(child) };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function postJson<T>(url: string, body: unknown, token?: string): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
    body: JSON.stringify(body),
  });
  return (await response.json()) as T;
}

/**
 * Logs in as `admin` the way a device's installer does (flag 2): the token, the workspace and the MQTT
 * account docks connect with.
 */
export async function deviceLogin(
  baseUrl: string,
  password: string,
): Promise<{ token: string; ws: string; account: { username: string; password: string } }> {
  type Login = {
    code: number;
    data: { access_token: string; workspace_id: string; mqtt_username?: string; mqtt_password?: string };
  };
  const login = await postJson<Login>(`${baseUrl}/manage/api/v1/login`, {
    username: 'admin',
    password,
    flag: 2,
  });
  const { access_token: token, workspace_id: ws, mqtt_username, mqtt_password } = login.data;
  if (login.code !== 0 || !mqtt_username || !mqtt_password)
    throw new Error('the login answered no MQTT credentials');
  return { token, ws, account: { username: mqtt_username, password: mqtt_password } };
}

/**
 * What a Pilot 2 has once logged in as `admin`: its token and workspace, its upload credentials (`sts`)
 * and an S3 client holding them, as the benchmarks that upload media need.
 */
export async function pilotSession(
  url: string,
  password: string,
): Promise<{ token: string; ws: string; bucket: string; prefix: string; s3: S3Client }> {
  type Login = { data: { access_token: string; workspace_id: string } };
  const login = await postJson<Login>(`${url}/manage/api/v1/login`, { username: 'admin', password, flag: 2 });
  const token = login.data.access_token;
  const ws = login.data.workspace_id;
  type Sts = {
    data: {
      credentials: Record<string, string>;
      endpoint: string;
      bucket: string;
      region: string;
      object_key_prefix: string;
    };
  };
  const { data } = await postJson<Sts>(`${url}/storage/api/v1/workspaces/${ws}/sts`, {}, token);
  const s3 = sdkClient({
    accessKeyId: data.credentials.access_key_id!,
    accessKeySecret: data.credentials.access_key_secret!,
    securityToken: data.credentials.security_token!,
    endpoint: data.endpoint,
    bucket: data.bucket,
    region: data.region,
    provider: 'minio',
    prefix: data.object_key_prefix,
    expiresAt: 0,
  });
  return { token, ws, bucket: data.bucket, prefix: data.object_key_prefix, s3 };
}

/**
 * The database a benchmark runs on: SQLite in the data directory, or, with BENCH_DATABASE_URL, a fresh
 * PostgreSQL database created on that server. `env` is what `skyvault serve` needs to use it.
 */
export async function benchDatabase(): Promise<{
  url: string | undefined;
  env: Record<string, string>;
  drop(): Promise<void>;
}> {
  if (process.env.BENCH_DATABASE_URL) process.env.SKYVAULT_TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL;
  const fresh = await createFreshDatabase(process.env.BENCH_DATABASE_URL ? 'postgres' : 'sqlite');
  return {
    url: fresh.url,
    env: fresh.url ? { SKYVAULT_DATABASE_URL: fresh.url } : {},
    drop: () => fresh.drop(),
  };
}

/**
 * At the end of a benchmark: its data directory and fresh database are removed, or, with
 * BENCH_KEEP_DATA=1, kept and named (to look at query plans, or start Skyvault on them). A kept
 * PostgreSQL database is renamed `skyvault_bench_kept_…`: under its test name, the next test process
 * on the machine would drop it as left behind by an ended process (test/helpers/databases.ts).
 */
export async function keepOrRemove(
  fresh: { url: string | undefined; drop(): Promise<void> },
  dir: string,
): Promise<void> {
  if (process.env.BENCH_KEEP_DATA === '1') {
    let url = fresh.url;
    if (url) {
      const kept = new URL(url);
      const name = kept.pathname.slice(1).replace(/^skyvault_test_\d+_/, 'skyvault_bench_kept_');
      const admin = new pg.Client({ connectionString: process.env.BENCH_DATABASE_URL });
      await admin.connect();
      try {
        await admin.query(`ALTER DATABASE ${kept.pathname.slice(1)} RENAME TO ${name}`);
      } finally {
        await admin.end();
      }
      kept.pathname = `/${name}`;
      url = kept.toString();
    }
    process.stdout.write(`kept: SKYVAULT_DATA_DIR=${dir}${url ? ` SKYVAULT_DATABASE_URL=${url}` : ''}\n`);
    return;
  }
  await fresh.drop();
  rmSync(dir, { recursive: true, force: true });
}

/** Peak resident memory (VmHWM) and CPU time used so far by a process, from /proc. */
export function processUsage(pid: number): { peakRssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return {
    peakRssMb: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024,
    cpuSeconds: (Number(stat[11]) + Number(stat[12])) / 100,
  };
}
