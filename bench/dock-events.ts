/**
 * Benchmark: DJI Dock `file_upload_callback` events (docs/protocol.md §4.2) handled per second end to end
 * (published by simulated docks, recorded by Skyvault, acknowledged with `events_reply`), against the
 * floor of a dock event: the same request and reply through the same broker, answered by a trivial
 * responder (bench/mqtt-responder-server.ts) that parses the event and publishes Skyvault's reply at
 * once. Goal: at least 0.50 of the responder's rate, and no lost replies. Also the server's CPU per event
 * against the responder's, and, as information, the broker's one-way delivery rate of the same messages.
 *
 * Brokers. By default Skyvault runs its embedded broker (aedes 2), and the responder is an aedes 2 of the
 * same version with the responder in the same process (aedes' in-process subscribe and publish), as
 * Skyvault embeds its broker and handles events in-process (Skyvault's own client reaches its broker over
 * loopback TCP, the responder's does not: that hop is Skyvault's to pay); the one-way delivery goes
 * through a standalone aedes 2 (bench/aedes-server.ts). With BENCH_MQTT_URL (e.g. Mosquitto,
 * mqtt://127.0.0.1:1883) everything uses that broker: Skyvault with SKYVAULT_MQTT_URL (shared group
 * `bench-<run>`), the docks connecting to it (the broker must let them in as they are: their login is the
 * admin's MQTT account, which an anonymous Mosquitto ignores), bound to the workspace through the API
 * (an external broker binds nothing: docs/mqtt.md); the responder as an MQTT 5 client of it. Skyvault
 * subscribes to every dock's events, so it is stopped while the baselines run there (and started again for
 * the next dock count). Every SN and client id carries a random run id (`SVD<run>-D-i` Skyvault's docks,
 * `RSD…` the responder's, `OWD…` the one-way publishers), and the responder answers only its own, so runs
 * and other users of a shared broker do not collide; their messages can still reach Skyvault's
 * subscription (and its replies theirs): a reply nobody here waits for counts as a duplicate, a problem.
 *
 * For each dock count D (BENCH_DOCKS), with E events per dock:
 * 1. D docks (MQTT 5, one connection each, from this process) log in with the admin's MQTT credentials and
 *    come online with `update_topo` (bound to the workspace by it, or through the API); one asks
 *    `storage_config_get`, and the D×E objects the events name are uploaded beforehand, each with its own
 *    bytes (so each its own MD5, as a dock's photos).
 * 2. Skyvault: each dock publishes its E events (need_reply 1, QoS 1); an event is done when the
 *    `events_reply` with its tid arrives. One run (Skyvault's first of these events: not warmed up).
 * 3. Responder: D other docks publish the same payloads (same bytes, their own topics of the same length)
 *    with the same window and the same completion rule; best of BENCH_BASELINE_RUNS runs (one lasts well
 *    under a second, the first is a cold start).
 * 3b. Recording responder (information): the same, answered by the responder once it has inserted the
 *    event as one row in the same kind of database as Skyvault's (BENCH_RESPONDER_RECORDS in
 *    bench/mqtt-responder-server.ts: a SQLite file with Skyvault's settings, or the benchmark's PostgreSQL
 *    database), the floor of recording before acknowledging; best of BENCH_BASELINE_RUNS.
 * 4. One-way (information): D publishers publish the same payloads to one subscriber of
 *    `thing/product/+/events`; a message is done when it arrives; the fastest of BENCH_BASELINE_RUNS runs
 *    that lost nothing. Messages it loses are reported, not a failure, and count as lost after 5 s without
 *    progress: Mosquitto drops messages for a client whose queue is over max_queued_messages (1000 by
 *    default) and reads one packet per connection per loop, so a single subscriber's acknowledgements fall
 *    behind D publishers (a request and its reply pace themselves through one connection instead).
 * In all, a dock keeps at most BENCH_WINDOW messages not done, and the rate is messages done over the time
 * from the first publish to the last completion. A message is lost when it is still not done after
 * BENCH_REPLY_TIMEOUT_SECONDS without any progress. Skyvault acknowledges reports it refuses too (docs/
 * mqtt.md), so the media API must then count exactly D×E new files. CPU per event comes from /proc: the
 * Skyvault process(es), the responder's process, this process (the docks), on PostgreSQL the backends of
 * the benchmark's database (and, as information, every `postgres` process of the machine, others'
 * included), with BENCH_MQTT_URL every `mosquitto` process; and the machine's busy share over each run.
 * With BENCH_MQTT_URL, D × BENCH_WINDOW events may wait at once for the one client that takes them all:
 * a Mosquitto with its defaults holds 1,020 for one client and drops the rest (lost, a failure), so 1,000
 * docks need a broker with a higher max_queued_messages.
 *
 * Scale-out: BENCH_INSTANCES=2 (needs BENCH_DATABASE_URL and BENCH_MQTT_URL) runs step 2 twice: with one
 * `skyvault serve`, then with a second one started on the same database and broker (same
 * SKYVAULT_SECRET_KEY and shared group; the broker splits the events between them, as its shared
 * subscription does in production), on fresh events (new objects: a repeated report costs less). Both
 * instances use one store, as several instances must (docs/storage.md): a third `skyvault serve`'s
 * embedded store as their MinIO (SKYVAULT_STORAGE=minio with its root credentials), in both runs. Each
 * instance's handled events come from its /metrics (SKYVAULT_METRICS_TOKEN). On a 2-core machine both
 * instances, PostgreSQL, the broker, the store and the docks share two cores: that run measures
 * contention, not what a second machine adds.
 *
 * Exit code 1 when an event was lost or refused (Skyvault's or the responder's), a file not recorded, or a
 * connection dropped.
 * The figures go to the bench runner (bench/report.ts) as `dock-events, D docks (SQLite|PostgreSQL,
 * embedded|Mosquitto)` (", external store" with BENCH_INSTANCES=2, plus a `…, 2 instances` scenario).
 *
 * Run: `npm run bench -- dock-events`. Knobs: BENCH_DOCKS (100,1000); BENCH_EVENTS_PER_DOCK (20, or 4000/D
 * when lower); BENCH_WINDOW (4); BENCH_REPLY_TIMEOUT_SECONDS (30, without progress); BENCH_BASELINE_RUNS
 * (3); BENCH_DATABASE_URL (postgres://…: a fresh PostgreSQL database created on that server instead of
 * SQLite, dropped at the end); BENCH_MQTT_URL (an external broker for everything, e.g.
 * mqtt://127.0.0.1:1883); BENCH_INSTANCES (1, or 2 as above); BENCH_SERVER_NODE_ARGS (bench/helpers.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  benchDatabase,
  deviceLogin,
  postJson,
  processUsage,
  type Started,
  type StartedSkyvault,
  startScript,
  startSkyvault,
} from './helpers.ts';
import {
  baselineFlood,
  closeAll,
  Flood,
  type FloodMessage,
  type FloodResult,
  floodProblems,
  machineCpu,
  onlineDocks,
  openClients,
  parseReply,
  positiveInts,
  processCpuMeter,
  replyFlood,
  Requests,
  summarizeLog,
  troubleMark,
} from './mqtt-flood.ts';
import { compared, type Figure, recordFigures } from './report.ts';

const dockCounts = positiveInts('BENCH_DOCKS', '100,1000');
const eventsPerDockSetting = process.env.BENCH_EVENTS_PER_DOCK
  ? positiveInts('BENCH_EVENTS_PER_DOCK', '')[0]!
  : undefined;
const window = positiveInts('BENCH_WINDOW', '4')[0]!;
const idleTimeoutMs = positiveInts('BENCH_REPLY_TIMEOUT_SECONDS', '30')[0]! * 1000;
/** A baseline run lasts well under a second: the best of a few is steadier (and raises the bar). */
const baselineRuns = positiveInts('BENCH_BASELINE_RUNS', '3')[0]!;
const externalBroker = process.env.BENCH_MQTT_URL || undefined;
const instances = positiveInts('BENCH_INSTANCES', '1')[0]!;
const onPostgres = Boolean(process.env.BENCH_DATABASE_URL);
if (new Set(dockCounts).size !== dockCounts.length)
  throw new Error('BENCH_DOCKS: each dock count once (the dock SNs are made of it)');
if (instances > 2) refuse(`BENCH_INSTANCES is 1 or 2, not ${instances}`);
if (instances === 2 && (!onPostgres || !externalBroker))
  refuse(
    'BENCH_INSTANCES=2 runs two `skyvault serve` on one database and one broker: set BENCH_DATABASE_URL ' +
      '(a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres) and BENCH_MQTT_URL (an ' +
      'external broker, e.g. mqtt://127.0.0.1:1883) too',
  );
const eventsPerDock = (docks: number) => eventsPerDockSetting ?? Math.min(20, Math.ceil(4000 / docks));

function refuse(reason: string): never {
  process.stderr.write(`dock-events: ${reason}\n`);
  process.exit(2);
}

/**
 * A one-way message still not delivered after this long without progress is taken as dropped: the run is
 * information only, and a broker may drop what a single subscriber does not take fast enough (below).
 */
const ONE_WAY_IDLE_MS = 5000;
/** Objects uploaded at once, and docks bound through the API at once. */
const UPLOAD_CONCURRENCY = 32;
const BIND_CONCURRENCY = 16;
const password = 'bench-password';
/** Tells this run's SNs and client ids from any other's on a shared broker. */
const run = randomBytes(3).toString('hex').toUpperCase();
const brokerName = externalBroker ? 'Mosquitto' : 'embedded';
const databaseName = onPostgres ? 'PostgreSQL' : 'SQLite';

/** One `file_upload_callback`, serialized once and published as is by every variant. */
interface BenchEvent extends FloodMessage {
  objectKey: string;
}

interface StorageConfig {
  bucket: string;
  endpoint: string;
  region: string;
  object_key_prefix: string;
  credentials: { access_key_id: string; access_key_secret: string; security_token: string };
}

/** What was measured of one flood: its result and the CPU seconds each meter read over it. */
interface Measured {
  result: FloodResult;
  cpu: Record<string, number>;
}

/**
 * Every dock's events: `<prefix>/bench-<D><set>/<sn>/DJI_<n>.JPG`, one flight per dock, as a dock reports
 * them (`set` tells the objects of the one-instance and two-instance runs apart).
 */
function eventsOf(
  docks: number,
  perDock: number,
  prefix: string,
  snOf: (i: number) => string,
  set: string,
): BenchEvent[][] {
  return Array.from({ length: docks }, (_, i) => {
    const sn = snOf(i);
    const folder = `${prefix}/bench-${docks}${set}/${sn}`;
    const flightId = randomUUID();
    return Array.from({ length: perDock }, (_, k) => {
      const name = `DJI_${k + 1}.JPG`;
      const objectKey = `${folder}/${name}`;
      const tid = randomUUID();
      const body = JSON.stringify({
        tid,
        bid: randomUUID(),
        timestamp: Date.now(),
        gateway: sn,
        method: 'file_upload_callback',
        need_reply: 1,
        data: {
          result: 0,
          file: {
            object_key: objectKey,
            path: folder,
            name,
            ext: {
              flight_id: flightId,
              drone_model_key: '0-67-0',
              payload_model_key: '1-53-0',
              is_original: true,
            },
            metadata: {
              absolute_altitude: 120.5,
              relative_altitude: 80,
              gimbal_yaw_degree: -90,
              create_time: '2026-01-01 12:00:00',
              shoot_position: { lat: 22.5797 + i * 0.001, lng: 113.938 + k * 0.0001 },
            },
          },
        },
      });
      return { tid, topic: `thing/product/${sn}/events`, body, objectKey };
    });
  });
}

/** The same payloads published by other docks (`snOf`), each on its own events topic. */
function movedTo(events: BenchEvent[][], snOf: (i: number) => string): FloodMessage[][] {
  return events.map((list, i) =>
    list.map(({ tid, body }) => ({ tid, body, topic: `thing/product/${snOf(i)}/events` })),
  );
}

async function uploadAll(storage: StorageConfig, events: BenchEvent[]): Promise<void> {
  const s3 = new S3Client({
    endpoint: storage.endpoint,
    region: storage.region || 'us-east-1',
    forcePathStyle: true,
    credentials: {
      accessKeyId: storage.credentials.access_key_id,
      secretAccessKey: storage.credentials.access_key_secret,
      sessionToken: storage.credentials.security_token,
    },
  });
  // Each object its own bytes, as a dock's photos are: with the same bytes, every report after the first
  // names an MD5 another file holds, the rare path of a duplicate (MediaService.store).
  const bodyOf = (key: string) => Buffer.concat([Buffer.from(key), Buffer.alloc(1024)]).subarray(0, 1024);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: UPLOAD_CONCURRENCY }, async () => {
        while (next < events.length) {
          const { objectKey } = events[next++]!;
          await s3.send(
            new PutObjectCommand({
              Bucket: storage.bucket,
              Key: objectKey,
              Body: bodyOf(objectKey),
              ContentType: 'image/jpeg',
            }),
          );
        }
      }),
    );
  } finally {
    s3.destroy();
  }
}

/** Binds D docks (seen over MQTT already) to the caller's workspace, as the device page does. */
async function bindAll(
  url: string,
  token: string,
  docks: number,
  snOf: (i: number) => string,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: BIND_CONCURRENCY }, async () => {
      while (next < docks) {
        const sn = snOf(next++);
        const answer = await postJson<{ code: number; message?: string }>(
          `${url}/manage/api/v1/devices/${sn}/binding`,
          {},
          token,
        );
        if (answer.code !== 0) throw new Error(`binding ${sn}: code ${answer.code} ${answer.message ?? ''}`);
      }
    }),
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Reads of CPU seconds so far: the machine's busy and total time, this process's (the docks), the
 * broker's, and for Skyvault's runs PostgreSQL's and the shared store's.
 */
function machineMeters(
  skyvault: { store: StartedSkyvault | undefined } | undefined,
): Record<string, () => number> {
  const store = skyvault?.store;
  return {
    machineBusy: () => machineCpu().busySeconds,
    machineTotal: () => machineCpu().totalSeconds,
    docks: () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    },
    ...(skyvault && databaseOnServer
      ? {
          postgres: processCpuMeter('postgres', ` ${databaseOnServer} `),
          postgresAll: processCpuMeter('postgres'),
        }
      : {}),
    ...(externalBroker ? { broker: processCpuMeter('mosquitto') } : {}),
    ...(store ? { store: () => processUsage(store.child.pid!).cpuSeconds } : {}),
  };
}

const ms = (seconds: number | undefined, events: number) =>
  seconds === undefined || events === 0 ? '–' : ((seconds * 1000) / events).toFixed(3);
const busyOf = (m: Measured) =>
  m.cpu.machineTotal ? `${Math.min(100, (100 * m.cpu.machineBusy!) / m.cpu.machineTotal).toFixed(0)}%` : '–';
const doneOf = (r: FloodResult) => r.sent - r.lost;

const dir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-dock-events-'));
const database = await benchDatabase();
/** The benchmark's PostgreSQL database, whose backends' CPU is PostgreSQL's share of an event. */
const databaseOnServer = database.url ? new URL(database.url).pathname.slice(1) : undefined;
const secrets = {
  secretKey: randomBytes(24).toString('hex'),
  metricsToken: randomBytes(24).toString('hex'),
  storeAccessKey: `BENCHROOT${run}`,
  storeSecretKey: randomBytes(16).toString('hex'),
};
let store: StartedSkyvault | undefined;
let storePort = 0;
/** The running instances: [0] always during Skyvault's runs, [1] only during the two-instance run. */
const servers: (StartedSkyvault | undefined)[] = [undefined, undefined];
let oneWayBroker: (Started & { ready: { port: number } }) | undefined;
let responder: (Started & { ready: { port?: number } }) | undefined;
const problems: string[] = [];

function instanceEnv(k: number): Record<string, string> {
  const data = path.join(dir, `instance-${k}`);
  mkdirSync(data, { recursive: true });
  return {
    SKYVAULT_DATA_DIR: data,
    SKYVAULT_ADMIN_PASSWORD: password,
    ...database.env,
    ...(externalBroker
      ? { SKYVAULT_MQTT_URL: externalBroker, SKYVAULT_MQTT_SHARED_GROUP: `bench-${run}` }
      : {}),
    ...(instances === 2
      ? {
          SKYVAULT_SECRET_KEY: secrets.secretKey,
          SKYVAULT_METRICS_TOKEN: secrets.metricsToken,
          SKYVAULT_STORAGE: 'minio',
          SKYVAULT_S3_ENDPOINT: `http://127.0.0.1:${storePort}`,
          SKYVAULT_S3_ACCESS_KEY: secrets.storeAccessKey,
          SKYVAULT_S3_SECRET_KEY: secrets.storeSecretKey,
        }
      : {}),
  };
}

/** `file_upload_callback` events this instance handled so far (its /metrics), with BENCH_INSTANCES=2. */
async function handledBy(server: StartedSkyvault): Promise<number> {
  const response = await fetch(`${server.url}/metrics`, {
    headers: { authorization: `Bearer ${secrets.metricsToken}` },
  });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  let handled = 0;
  for (const line of (await response.text()).split('\n')) {
    if (line.startsWith('skyvault_device_events_total{') && line.includes('method="file_upload_callback"'))
      handled += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return handled;
}

try {
  if (instances === 2) {
    storePort = await freePort();
    const storeDir = path.join(dir, 'store');
    mkdirSync(storeDir);
    store = await startSkyvault({
      SKYVAULT_DATA_DIR: storeDir,
      SKYVAULT_ADMIN_PASSWORD: password,
      SKYVAULT_STORAGE_PORT: String(storePort),
      SKYVAULT_STORAGE_ACCESS_KEY: secrets.storeAccessKey,
      SKYVAULT_STORAGE_SECRET_KEY: secrets.storeSecretKey,
    });
  }
  servers[0] = await startSkyvault(instanceEnv(1));
  let session = await deviceLogin(servers[0].url, password);
  if (!externalBroker) oneWayBroker = await startScript<{ port: number }>('bench/aedes-server.ts');

  process.stdout.write(
    `${dockCounts.join(' and ')} docks, file_upload_callback events per dock: ${dockCounts.map(eventsPerDock).join(' and ')}; ` +
      `MQTT 5, QoS 1, at most ${window} events outstanding per dock, loopback; baselines: best of ${baselineRuns}; ` +
      `database: ${databaseName}; broker: ${externalBroker ? `external, ${externalBroker}` : 'embedded (aedes 2)'}; ` +
      `storage: ${store ? "a third skyvault serve's embedded store, as MinIO, for every instance" : 'embedded'}; ` +
      `instances: ${instances === 2 ? '1, then 2' : 1}; run id ${run}\n`,
  );

  for (const docks of dockCounts) {
    const perDock = eventsPerDock(docks);
    const total = docks * perDock;
    const snOf = (role: string) => (i: number) => `${role}${run}-${docks}-${i}`;
    const dockSn = snOf('SVD');
    const trouble = troubleMark(`${docks} docks`);
    const step = (text: string) => process.stderr.write(`[${docks} docks] ${text}\n`);
    const logs: string[] = [];

    // Skyvault stops while the baselines use an external broker: start it again for this dock count.
    if (!servers[0]) {
      step('Skyvault starting again');
      servers[0] = await startSkyvault(instanceEnv(1));
      session = await deviceLogin(servers[0].url, password);
    }
    const first = servers[0];
    const logFrom = first.log.length;
    const { token, ws, account } = session;
    const fileTotal = async () => {
      const response = await fetch(`${first.url}/media/api/v1/files/${ws}/files?page_size=1`, {
        headers: { 'x-auth-token': token },
      });
      const body = (await response.json()) as { code: number; data: { pagination: { total: number } } };
      if (body.code !== 0) throw new Error(`the media list answered code ${body.code}`);
      return body.data.pagination.total;
    };

    // Skyvault's docks: online and bound, with the objects their events name already in storage.
    step('docks connecting, update_topo');
    const deviceUrl = externalBroker ?? first.mqttUrl;
    if (!deviceUrl) throw new Error('skyvault serve printed no embedded MQTT broker address');
    const requests = new Requests();
    let flood: Flood | undefined;
    const dockClients = await onlineDocks({
      url: deviceUrl,
      account,
      count: docks,
      snOf: dockSn,
      aircraftSnOf: snOf('SVA'),
      requests,
      onMessage: (topic, payload) => {
        const reply = parseReply(payload);
        if (topic.endsWith('/events_reply')) flood?.done(reply.tid, Number(reply.data?.result) === 0);
        else requests.answer(reply);
      },
    });
    if (externalBroker) {
      step('binding the docks through the API');
      await bindAll(first.url, token, docks, dockSn);
    }
    const config = await requests.send(
      dockClients[0]!,
      `thing/product/${dockSn(0)}/requests`,
      'storage_config_get',
      { module: 0 },
    );
    if (Number(config.data?.result) !== 0)
      throw new Error(`storage_config_get: result ${config.data?.result}`);
    const storage = config.data!.output as StorageConfig;
    const prefix = storage.object_key_prefix.replace(/\/+$/, '');
    const eventSets = (instances === 2 ? ['a', 'b'] : ['a']).map((set) =>
      eventsOf(docks, perDock, prefix, dockSn, set),
    );
    step(`uploading ${total * eventSets.length} objects`);
    await uploadAll(storage, eventSets.flat(2));

    /** One flood of Skyvault's docks with `running` instances up, and the new files it recorded. */
    const skyvaultRun = async (
      running: StartedSkyvault[],
      events: BenchEvent[][],
    ): Promise<Measured & { recorded: number; handled: number[] }> => {
      const meters: Record<string, () => number> = {
        ...machineMeters({ store }),
        ...Object.fromEntries(
          running.map((server, k) => [`instance${k + 1}`, () => processUsage(server.child.pid!).cpuSeconds]),
        ),
      };
      const filesBefore = await fileTotal();
      const handledBefore = instances === 2 ? await Promise.all(running.map(handledBy)) : [];
      const before = Object.fromEntries(Object.entries(meters).map(([name, read]) => [name, read()]));
      flood = new Flood(
        dockClients.map((client, i) => ({ client, events: events[i]! })),
        window,
        idleTimeoutMs,
      );
      const result = await flood.run();
      flood = undefined;
      const cpu = Object.fromEntries(
        Object.entries(meters).map(([name, read]) => [name, read() - before[name]!]),
      );
      const handled =
        instances === 2
          ? (await Promise.all(running.map(handledBy))).map((n, k) => n - handledBefore[k]!)
          : [doneOf(result)];
      return { result, cpu, recorded: (await fileTotal()) - filesBefore, handled };
    };

    step('Skyvault, one instance: file_upload_callback');
    const one = await skyvaultRun([first], eventSets[0]!);
    const onePeakRss = processUsage(first.child.pid!).peakRssMb;
    let two: Awaited<ReturnType<typeof skyvaultRun>> | undefined;
    if (instances === 2) {
      step('second instance starting');
      const second = await startSkyvault(instanceEnv(2));
      servers[1] = second;
      step('Skyvault, two instances: file_upload_callback');
      two = await skyvaultRun([first, second], eventSets[1]!);
      logs.push(...second.log);
      servers[1] = undefined;
      await second.stop();
    }
    await closeAll(dockClients);
    logs.push(...first.log.slice(logFrom));
    if (externalBroker) {
      // Skyvault subscribes to every dock's events: away while the baselines use the broker.
      step('Skyvault stopping for the baselines');
      servers[0] = undefined;
      await first.stop();
    }

    /**
     * The floor: the same payloads from other docks (`<role><run>-…`), answered by the responder
     * (bench/mqtt-responder-server.ts) on the same broker, best of BENCH_BASELINE_RUNS. `recordsTo`:
     * it first records each event as one row there (and PostgreSQL's backends are metered too).
     */
    const responderFloor = async (role: string, recordsTo?: string): Promise<Measured> => {
      responder = await startScript<{ port?: number }>(
        'bench/mqtt-responder-server.ts',
        externalBroker ? [`${role}${run}`, externalBroker] : [`${role}${run}`],
        recordsTo ? { BENCH_RESPONDER_RECORDS: recordsTo } : {},
      );
      const child = responder.child;
      const responderCpu = () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`the responder exited (${child.exitCode ?? child.signalCode})`);
        return processUsage(child.pid!).cpuSeconds;
      };
      const measured = await replyFlood({
        brokerUrl: externalBroker ?? `mqtt://127.0.0.1:${responder.ready.port}`,
        snOf: snOf(role),
        events: movedTo(eventSets[0]!, snOf(role)),
        window,
        idleTimeoutMs,
        runs: baselineRuns,
        meters: { ...machineMeters(recordsTo ? { store: undefined } : undefined), responder: responderCpu },
      });
      await responder.stop();
      responder = undefined;
      return measured;
    };
    step('baseline: trivial responder');
    const floor = await responderFloor('RSD');
    // Information: the floor of recording an event. The same responder writing each event as one row of
    // one table (a primary key) in the same kind of database as Skyvault's, and answering once that is
    // committed: what any server that records before it acknowledges pays.
    step('baseline: responder that records each event');
    const recording = await responderFloor('RRD', database.url ?? `sqlite:${path.join(dir, 'responder.db')}`);

    // Information: the same payloads delivered one way, no reply.
    step('baseline: one-way delivery');
    const oneWayPid = oneWayBroker?.child.pid;
    const oneWay = await baselineFlood({
      brokerUrl: externalBroker ?? `mqtt://127.0.0.1:${oneWayBroker!.ready.port}`,
      brokerCpu: externalBroker ? processCpuMeter('mosquitto') : () => processUsage(oneWayPid!).cpuSeconds,
      subscriberId: `bench-subscriber-${run}-${docks}`,
      snOf: snOf('OWD'),
      events: movedTo(eventSets[0]!, snOf('OWD')),
      window,
      idleTimeoutMs: Math.min(idleTimeoutMs, ONE_WAY_IDLE_MS),
      runs: baselineRuns,
      accepts: (topic) => topic.startsWith(`thing/product/OWD${run}-${docks}-`),
      preferLossless: true,
    });

    // The table.
    const responderMs = (floor.cpu.responder! * 1000) / doneOf(floor.result);
    const serverMs = (one.cpu.instance1! * 1000) / doneOf(one.result);
    const ratio = one.result.rate / floor.result.rate;
    const twoLabel = two ? ', one instance' : '';
    const row = (name: string, m: Measured, process: string, ratio?: number): string =>
      `| ${name} | ${m.result.rate.toFixed(0)} | ${ratio === undefined ? '–' : ratio.toFixed(2)} | ${process} | ` +
      `${ms(m.cpu.postgres, doneOf(m.result))} | ${ms(m.cpu.broker, doneOf(m.result))} | ` +
      `${ms(m.cpu.docks, doneOf(m.result))} | ${busyOf(m)} | ${m.result.lost} |`;
    const lines = [
      '',
      `${docks} docks × ${perDock} events = ${total} file_upload_callback (${databaseName}, ${brokerName} broker):`,
      '| run | events/s | ÷ responder | CPU ms/event: server or responder process | PostgreSQL | Mosquitto | docks (this process) | machine busy | lost |',
      '|---|---|---|---|---|---|---|---|---|',
      row(
        `trivial responder, ${externalBroker ? 'MQTT client of the broker' : 'in-process in an aedes 2'}, reply received (best of ${baselineRuns})`,
        floor,
        responderMs.toFixed(3),
        1,
      ),
      row(
        `responder that records each event in one row (${databaseName}), reply after commit (best of ${baselineRuns})`,
        recording,
        ((recording.cpu.responder! * 1000) / doneOf(recording.result)).toFixed(3),
        recording.result.rate / floor.result.rate,
      ),
      row(`Skyvault${twoLabel}, reply received`, one, serverMs.toFixed(3), ratio),
    ];
    if (two) {
      const perInstance = two.handled
        .map((n, k) => `${ms(two.cpu[`instance${k + 1}`], n)} (${n} ev.)`)
        .join(' + ');
      lines.push(
        row('Skyvault, two instances, reply received', two, perInstance, two.result.rate / floor.result.rate),
      );
    }
    lines.push(
      row(
        `one-way delivery, same payloads, no reply (information, best of ${baselineRuns})`,
        { result: oneWay.result, cpu: externalBroker ? { broker: oneWay.cpuSeconds } : {} },
        externalBroker ? '–' : `${ms(oneWay.cpuSeconds, doneOf(oneWay.result))} (aedes)`,
      ),
      `Skyvault ÷ responder: ${ratio.toFixed(2)} (goal ≥ 0.50: ${ratio >= 0.5 ? 'met' : 'not met'}); ` +
        `÷ the responder that records each event: ${(one.result.rate / recording.result.rate).toFixed(2)}; ` +
        `server CPU per event ${(serverMs / responderMs).toFixed(1)} × the responder's` +
        (externalBroker
          ? '; with an external broker both also pay the broker (Mosquitto column).'
          : '; both processes include their broker.') +
        (one.cpu.postgres !== undefined
          ? ` PostgreSQL: the backends of the benchmark's database; every postgres process of the machine ` +
            `(WAL writer, checkpointer and other users' backends too) ${ms(one.cpu.postgresAll, doneOf(one.result))} ` +
            `ms per event${two ? ` (two instances: ${ms(two.cpu.postgresAll, doneOf(two.result))})` : ''}.`
          : ''),
      `Files recorded: ${one.recorded} of ${total}${two ? `, then ${two.recorded} of ${total}` : ''}. ` +
        `Wall time: Skyvault ${one.result.seconds.toFixed(2)} s${two ? ` and ${two.result.seconds.toFixed(2)} s` : ''}, ` +
        `responder ${floor.result.seconds.toFixed(2)} s, one-way ${oneWay.result.seconds.toFixed(2)} s. ` +
        `Server peak RSS so far: ${onePeakRss.toFixed(0)} MB.`,
    );
    if (two) {
      const oneInstanceMs = serverMs;
      const twoTotalMs = ((two.cpu.instance1! + two.cpu.instance2!) * 1000) / doneOf(two.result);
      lines.push(
        `Scale-out: two instances ÷ one = ${(two.result.rate / one.result.rate).toFixed(2)} in events/s. ` +
          `CPU per event handled: one instance alone ${oneInstanceMs.toFixed(3)} ms; with two, instance 1 ` +
          `${ms(two.cpu.instance1, two.handled[0]!)} ms (${two.handled[0]} events), instance 2 ` +
          `${ms(two.cpu.instance2, two.handled[1]!)} ms (${two.handled[1]}), both together ` +
          `${twoTotalMs.toFixed(3)} ms per event. Shared store (third skyvault serve): ` +
          `${ms(one.cpu.store, doneOf(one.result))} and ${ms(two.cpu.store, doneOf(two.result))} ms per event. ` +
          `This machine has 2 cores shared by both instances, PostgreSQL, the broker, the store and the docks: ` +
          `this measures contention, not what a second machine would add.`,
      );
    }
    const oneWayTrouble = floodProblems('one-way', oneWay.result);
    if (oneWayTrouble.length > 0)
      lines.push(
        `One-way delivery (information, not a failure) in every run: ${oneWayTrouble.join('; ')}. ` +
          (externalBroker
            ? 'Mosquitto drops what it cannot hold for one client (max_inflight_messages + max_queued_messages, ' +
              '20 + 1000 by default; "Outgoing messages are being dropped" in its log), and it reads one ' +
              'packet per connection per loop, so one subscriber’s acknowledgements fall behind D publishers. '
            : '') +
          'Its rate counts what arrived.',
      );
    if (externalBroker && [floor.result, one.result, two?.result].some((r) => r && r.lost > 0))
      lines.push(
        `Lost on the external broker: up to D × BENCH_WINDOW = ${docks * window} events wait at once for the ` +
          'one client that takes them all (Skyvault, the responder); Mosquitto holds at most ' +
          'max_inflight_messages + max_queued_messages for one client (20 + 1000 by default) and drops the ' +
          'rest ("Outgoing messages are being dropped for client …" in its log). For this many docks, raise ' +
          'max_queued_messages on the broker.',
      );
    lines.push(`Server log: ${summarizeLog(logs)}`);
    process.stdout.write(lines.join('\n') + '\n');

    // The figures, for the bench runner.
    const lost = one.result.lost + (two?.result.lost ?? 0);
    const responderRef = { name: 'trivial responder, same broker', value: floor.result.rate };
    const figures: Figure[] = [
      compared('Skyvault events per second', one.result.rate, 'events/s', responderRef, 'higher', 0.5),
      compared(
        'server CPU per event',
        serverMs,
        'ms/event',
        { name: 'trivial responder CPU per event', value: responderMs },
        'lower',
      ),
      compared(
        'Skyvault events per second, against recording each event (information)',
        one.result.rate,
        'events/s',
        { name: `responder recording one row in ${databaseName}`, value: recording.result.rate },
        'higher',
      ),
      {
        name: 'one-way delivery, same payloads (information)',
        value: oneWay.result.rate,
        unit: 'messages/s',
      },
      { name: 'lost replies', value: lost, unit: 'events', goal: { limit: 0, met: lost === 0 } },
    ];
    if (one.cpu.postgres !== undefined)
      figures.push({
        name: "PostgreSQL CPU per event (the database's backends)",
        value: (one.cpu.postgres * 1000) / doneOf(one.result),
        unit: 'ms/event',
      });
    if (one.cpu.broker !== undefined)
      figures.push(
        compared(
          'Mosquitto CPU per event, Skyvault',
          (one.cpu.broker * 1000) / doneOf(one.result),
          'ms/event',
          {
            name: 'Mosquitto CPU per event, responder',
            value: ((floor.cpu.broker ?? 0) * 1000) / doneOf(floor.result),
          },
          'lower',
        ),
      );
    const scenario = `dock-events, ${docks} docks (${databaseName}, ${brokerName}${two ? ', external store' : ''})`;
    recordFigures(scenario, figures, { events: total, perDock, window, baselineRuns, run });
    if (two) {
      const oneRef = { name: 'one instance', value: one.result.rate };
      recordFigures(
        `dock-events, ${docks} docks (${databaseName}, ${brokerName}, 2 instances)`,
        [
          compared('events per second, two instances', two.result.rate, 'events/s', oneRef, 'higher'),
          compared(
            'events per second, two instances vs the responder',
            two.result.rate,
            'events/s',
            responderRef,
            'higher',
            0.5,
          ),
          ...two.handled.map((n, k) =>
            compared(
              `server CPU per event handled, instance ${k + 1} of 2`,
              (two.cpu[`instance${k + 1}`]! * 1000) / n,
              'ms/event',
              { name: 'one instance alone', value: serverMs },
              'lower',
            ),
          ),
          {
            name: 'lost replies, two instances',
            value: two.result.lost,
            unit: 'events',
            goal: { limit: 0, met: two.result.lost === 0 },
          },
        ],
        { events: total, handled: two.handled, note: '2 cores shared by everything: contention' },
      );
    }

    for (const [name, r] of [
      ['responder', floor.result],
      ['recording responder', recording.result],
      ['Skyvault', one.result],
      ...(two ? [['Skyvault, two instances', two.result] as const] : []),
    ] as const) {
      problems.push(...floodProblems(`${docks} docks, ${name}`, r));
    }
    problems.push(...trouble.since());
    if (one.recorded !== total)
      problems.push(`${docks} docks: ${one.recorded} new files recorded, ${total} expected`);
    if (two && two.recorded !== total)
      problems.push(`${docks} docks, two instances: ${two.recorded} new files recorded, ${total} expected`);
  }
  for (const problem of problems) process.stdout.write(`FAILED: ${problem}\n`);
  if (problems.length > 0) process.exitCode = 1;
} finally {
  await closeAll(openClients(), true);
  await responder?.stop();
  await oneWayBroker?.stop();
  for (const server of servers) await server?.stop();
  await store?.stop();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
}
