/**
 * Benchmark: DJI Dock `file_upload_callback` events (docs/protocol.md §4.2) handled per second end to end
 * (published by simulated docks, recorded by Skyvault, acknowledged with `events_reply`), against the
 * delivery rate of the broker Skyvault embeds (a standalone aedes 2) for the same messages, measured in
 * the same run. Goal: at least 0.30 of the broker's rate, and no lost replies.
 *
 * For each dock count D (BENCH_DOCKS), with E events per dock:
 * 1. D docks (MQTT 5, one connection each, from this process) log in with the admin's MQTT credentials and
 *    come online with `update_topo`, which binds them to the workspace; one asks `storage_config_get`,
 *    and the D×E objects the events name are uploaded beforehand with those credentials.
 * 2. Baseline: D publishers on the standalone broker publish the same D×E payloads (same topics and
 *    bytes, QoS 1) to one subscriber of `thing/product/+/events`; a message is done when it arrives.
 *    Best of BENCH_BASELINE_RUNS runs: one lasts well under a second, and its first run is a cold start.
 * 3. Skyvault: each dock publishes its E events (need_reply 1, QoS 1); an event is done when the
 *    `events_reply` with its tid arrives.
 * In both, a publisher keeps at most BENCH_WINDOW messages not done, and the rate is messages done over the
 * time from the first publish to the last completion. A message is lost when it is still not done after
 * BENCH_REPLY_TIMEOUT_SECONDS without any progress. Skyvault acknowledges reports it refuses too (docs/
 * mqtt.md), so the media API must then count exactly D×E new files.
 * Exit code 1 when a message was lost or refused, or a file not recorded.
 *
 * Run: `npm run bench -- dock-events` (BENCH_DOCKS=100,1000; BENCH_EVENTS_PER_DOCK: 20, or 4000/D when
 * lower; BENCH_WINDOW=4; BENCH_REPLY_TIMEOUT_SECONDS=30; BENCH_BASELINE_RUNS=3;
 * BENCH_DATABASE_URL=postgres://… runs on a fresh PostgreSQL database created on that server instead of
 * SQLite).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { benchDatabase, postJson, processUsage, startScript, startSkyvault } from './helpers.ts';

const dockCounts = positiveInts('BENCH_DOCKS', '100,1000');
const eventsPerDockSetting = process.env.BENCH_EVENTS_PER_DOCK
  ? positiveInts('BENCH_EVENTS_PER_DOCK', '')[0]!
  : undefined;
const window = positiveInts('BENCH_WINDOW', '4')[0]!;
const idleTimeoutMs = positiveInts('BENCH_REPLY_TIMEOUT_SECONDS', '30')[0]! * 1000;
/** A baseline run lasts well under a second: the best of a few is steadier (and raises the bar). */
const baselineRuns = positiveInts('BENCH_BASELINE_RUNS', '3')[0]!;
if (new Set(dockCounts).size !== dockCounts.length)
  throw new Error('BENCH_DOCKS: each dock count once (the dock SNs are made of it)');
const eventsPerDock = (docks: number) => eventsPerDockSetting ?? Math.min(20, Math.ceil(4000 / docks));

/** Connections opened at once, objects uploaded at once, and the wait for a setup reply. */
const CONNECT_BATCH = 50;
const UPLOAD_CONCURRENCY = 32;
const SETUP_TIMEOUT_MS = 30_000;
const password = 'bench-password';

/** One `file_upload_callback`, serialized once and published as is to both brokers. */
interface BenchEvent {
  tid: string;
  topic: string;
  body: string;
  objectKey: string;
}

interface Reply {
  tid: string;
  data?: { result?: unknown; output?: unknown };
}

interface StorageConfig {
  bucket: string;
  endpoint: string;
  region: string;
  object_key_prefix: string;
  credentials: { access_key_id: string; access_key_secret: string; security_token: string };
}

const open = new Set<MqttClient>();
const closing = new WeakSet<MqttClient>();
/** Connections that closed without closeAll (the broker or Skyvault dropped them), and client errors. */
let unexpectedCloses = 0;
const clientErrors: string[] = [];

interface FloodResult {
  sent: number;
  lost: number;
  unsent: number;
  refused: number;
  duplicates: number;
  publishErrors: number;
  /** From the first publish to the last completion. */
  seconds: number;
  /** Messages done per second. */
  rate: number;
}

interface Sender {
  client: MqttClient;
  events: BenchEvent[];
  next: number;
  outstanding: number;
}

/**
 * Publishes every sender's events at QoS 1, each sender keeping at most `window` not done; `done(tid)` is
 * called by whoever sees the completion (the dock's events_reply, the baseline's subscriber).
 */
class Flood {
  private readonly senders: Sender[];
  private readonly byTid = new Map<string, { sender: Sender; done: boolean }>();
  private readonly total: number;
  private sent = 0;
  private completed = 0;
  private refused = 0;
  private duplicates = 0;
  private publishErrors = 0;
  private firstSend = 0;
  private lastDone = 0;
  private lastProgress = 0;
  private finish: (() => void) | undefined;

  constructor(
    senders: { client: MqttClient; events: BenchEvent[] }[],
    private readonly window: number,
    private readonly idleTimeoutMs: number,
  ) {
    this.senders = senders.map((s) => ({ ...s, next: 0, outstanding: 0 }));
    for (const sender of this.senders)
      for (const event of sender.events) this.byTid.set(event.tid, { sender, done: false });
    this.total = this.byTid.size;
  }

  async run(): Promise<FloodResult> {
    const ended = new Promise<void>((resolve) => (this.finish = resolve));
    this.firstSend = this.lastProgress = performance.now();
    for (const sender of this.senders) this.pump(sender);
    const watchdog = setInterval(() => {
      if (performance.now() - this.lastProgress > this.idleTimeoutMs) this.finish?.();
    }, 250);
    if (this.total === 0) this.finish?.();
    await ended;
    clearInterval(watchdog);
    this.finish = undefined;
    const seconds = this.completed > 0 ? (this.lastDone - this.firstSend) / 1000 : 0;
    return {
      sent: this.sent,
      lost: this.sent - this.completed,
      unsent: this.total - this.sent,
      refused: this.refused,
      duplicates: this.duplicates,
      publishErrors: this.publishErrors,
      seconds,
      rate: seconds > 0 ? this.completed / seconds : 0,
    };
  }

  done(tid: string, ok: boolean): void {
    if (!this.finish) return; // After the end: already counted as lost.
    const entry = this.byTid.get(tid);
    if (!entry || entry.done) {
      this.duplicates += 1;
      return;
    }
    entry.done = true;
    this.completed += 1;
    if (!ok) this.refused += 1;
    this.lastDone = this.lastProgress = performance.now();
    entry.sender.outstanding -= 1;
    this.pump(entry.sender);
    if (this.completed === this.total) this.finish();
  }

  private pump(sender: Sender): void {
    while (sender.outstanding < this.window && sender.next < sender.events.length) {
      const event = sender.events[sender.next++]!;
      sender.outstanding += 1;
      this.sent += 1;
      this.lastProgress = performance.now();
      sender.client.publish(event.topic, event.body, { qos: 1 }, (error) => {
        if (error) this.publishErrors += 1;
      });
    }
  }
}

/** Every dock's events: `<prefix>/bench-<D>/<sn>/DJI_<n>.JPG`, one flight per dock, as a dock reports them. */
function eventsOf(
  docks: number,
  perDock: number,
  prefix: string,
  snOf: (i: number) => string,
): BenchEvent[][] {
  return Array.from({ length: docks }, (_, i) => {
    const sn = snOf(i);
    const folder = `${prefix}/bench-${docks}/${sn}`;
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
  const body = Buffer.alloc(1024);
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
              Body: body,
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

async function connect(
  url: string,
  clientId: string,
  credentials?: { username: string; password: string },
): Promise<MqttClient> {
  const options: IClientOptions = {
    clientId,
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: SETUP_TIMEOUT_MS,
    ...credentials,
  };
  const client = await mqtt.connectAsync(url, options, false);
  open.add(client);
  client.on('error', (error) => clientErrors.push(`${clientId}: ${error.message}`));
  client.on('close', () => {
    if (open.delete(client) && !closing.has(client)) unexpectedCloses += 1;
  });
  return client;
}

/** `count` connections, CONNECT_BATCH at a time, in index order. */
async function connectAll(
  count: number,
  connectOne: (i: number) => Promise<MqttClient>,
): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, (_, k) => connectOne(i + k));
    clients.push(...(await Promise.all(batch)));
  }
  return clients;
}

async function closeAll(clients: MqttClient[], force = false): Promise<void> {
  for (let i = 0; i < clients.length; i += CONNECT_BATCH) {
    await Promise.all(
      clients.slice(i, i + CONNECT_BATCH).map(async (client) => {
        closing.add(client);
        try {
          await client.endAsync(force);
        } catch {
          // Already closed.
        }
        open.delete(client);
      }),
    );
  }
}

/** "nothing at warn or above", or each distinct message with its level and count. */
function summarizeLog(lines: string[]): string {
  if (lines.length === 0) return 'nothing at warn or above';
  const counts = new Map<string, number>();
  for (const line of lines) {
    let key = line.slice(0, 200);
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string };
      key = `${entry.level === 40 ? 'warn' : entry.level === 50 ? 'error' : `level ${entry.level}`} "${entry.msg}"`;
    } catch {
      // Not JSON after all: the line itself.
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${n} × ${key}`).join('; ');
}

/** A reply or event; one that is not JSON gets an empty tid, so it counts as unknown. */
function parseReply(payload: Buffer): Reply {
  try {
    return JSON.parse(payload.toString()) as Reply;
  } catch {
    return { tid: '' };
  }
}

/** A comma-separated list of positive integers from the environment, or `fallback`; fails on anything else. */
function positiveInts(name: string, fallback: string): number[] {
  const raw = process.env[name] ?? fallback;
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1))
    throw new Error(`${name} must be a positive integer or a comma-separated list of them, not "${raw}"`);
  return values;
}

const dir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-dock-events-'));
const database = await benchDatabase();
const skyvault = await startSkyvault({
  SKYVAULT_DATA_DIR: dir,
  SKYVAULT_ADMIN_PASSWORD: password,
  ...database.env,
});
const broker = await startScript<{ port: number }>('bench/aedes-server.ts');
const problems: string[] = [];
try {
  if (!skyvault.mqttUrl) throw new Error('skyvault serve printed no embedded MQTT broker address');
  type Login = {
    code: number;
    data: { access_token: string; workspace_id: string; mqtt_username?: string; mqtt_password?: string };
  };
  const login = await postJson<Login>(`${skyvault.url}/manage/api/v1/login`, {
    username: 'admin',
    password,
    flag: 2,
  });
  const { access_token: token, workspace_id: ws, mqtt_username, mqtt_password } = login.data;
  if (login.code !== 0 || !mqtt_username || !mqtt_password)
    throw new Error('the login answered no MQTT credentials');
  const account = { username: mqtt_username, password: mqtt_password };
  const brokerUrl = `mqtt://127.0.0.1:${broker.ready.port}`;
  const fileTotal = async () => {
    const response = await fetch(`${skyvault.url}/media/api/v1/files/${ws}/files?page_size=1`, {
      headers: { 'x-auth-token': token },
    });
    const body = (await response.json()) as { code: number; data: { pagination: { total: number } } };
    if (body.code !== 0) throw new Error(`the media list answered code ${body.code}`);
    return body.data.pagination.total;
  };

  process.stdout.write(
    `${dockCounts.join(' and ')} docks, file_upload_callback events per dock: ${dockCounts.map(eventsPerDock).join(' and ')}; ` +
      `MQTT 5, QoS 1, at most ${window} events outstanding per dock, loopback; ` +
      `baseline: best of ${baselineRuns}; ` +
      `database: ${database.url ? 'PostgreSQL' : 'SQLite'}; storage: embedded\n`,
  );

  for (const docks of dockCounts) {
    const perDock = eventsPerDock(docks);
    const total = docks * perDock;
    const snOf = (i: number) => `BENCHDOCK-${docks}-${i}`;
    const logFrom = skyvault.log.length;
    const closesBefore = unexpectedCloses;
    const errorsBefore = clientErrors.length;
    const step = (text: string) => process.stderr.write(`[${docks} docks] ${text}\n`);

    // Skyvault's docks: online and bound, with the objects their events name already in storage.
    step('docks connecting, update_topo');
    const waits = new Map<string, (reply: Reply) => void>();
    let flood: Flood | undefined;
    const onDockMessage = (topic: string, payload: Buffer) => {
      const reply = parseReply(payload);
      if (topic.endsWith('/events_reply')) flood?.done(reply.tid, Number(reply.data?.result) === 0);
      else waits.get(reply.tid)?.(reply);
    };
    const request = (client: MqttClient, topic: string, method: string, data: unknown) => {
      const tid = randomUUID();
      const reply = new Promise<Reply>((resolve, reject) => {
        const timer = setTimeout(() => {
          waits.delete(tid);
          reject(new Error(`no reply to ${method} on ${topic} within ${SETUP_TIMEOUT_MS / 1000} s`));
        }, SETUP_TIMEOUT_MS);
        waits.set(tid, (r) => {
          clearTimeout(timer);
          waits.delete(tid);
          resolve(r);
        });
      });
      const envelope = { tid, bid: randomUUID(), timestamp: Date.now(), method, data };
      client.publish(topic, JSON.stringify(envelope), { qos: 1 });
      return reply;
    };
    const dockClients = await connectAll(docks, async (i) => {
      const sn = snOf(i);
      const client = await connect(skyvault.mqttUrl!, sn, account);
      client.on('message', onDockMessage);
      const granted = await client.subscribeAsync(
        [
          `sys/product/${sn}/status_reply`,
          `thing/product/${sn}/requests_reply`,
          `thing/product/${sn}/events_reply`,
        ],
        { qos: 1 },
      );
      if (granted.some((g) => g.qos >= 128)) throw new Error(`Skyvault refused the subscriptions of ${sn}`);
      const topo = await request(client, `sys/product/${sn}/status`, 'update_topo', {
        domain: 3,
        type: 1,
        sub_type: 0,
        thing_version: '1.1.2',
        sub_devices: [
          {
            sn: `BENCHUAV-${docks}-${i}`,
            domain: 0,
            type: 67,
            sub_type: 0,
            index: 'A',
            thing_version: '1.1.2',
          },
        ],
      });
      if (Number(topo.data?.result) !== 0)
        throw new Error(`update_topo of ${sn}: result ${topo.data?.result}`);
      return client;
    });
    const config = await request(dockClients[0]!, `thing/product/${snOf(0)}/requests`, 'storage_config_get', {
      module: 0,
    });
    if (Number(config.data?.result) !== 0)
      throw new Error(`storage_config_get: result ${config.data?.result}`);
    const storage = config.data!.output as StorageConfig;
    const events = eventsOf(docks, perDock, storage.object_key_prefix.replace(/\/+$/, ''), snOf);
    step(`uploading ${total} objects`);
    await uploadAll(storage, events.flat());
    const filesBefore = await fileTotal();

    // Baseline: the same messages through a bare aedes, no Skyvault.
    step('baseline: aedes delivery');
    const subscriber = await connect(brokerUrl, `bench-subscriber-${docks}`);
    subscriber.on('message', (_topic, payload) => {
      flood?.done(parseReply(payload).tid, true);
    });
    await subscriber.subscribeAsync('thing/product/+/events', { qos: 1 });
    const publishers = await connectAll(docks, (i) => connect(brokerUrl, snOf(i)));
    let baseline: FloodResult | undefined;
    let baselineCpu = 0;
    for (let run = 0; run < baselineRuns; run++) {
      const brokerCpu = processUsage(broker.child.pid!).cpuSeconds;
      flood = new Flood(
        publishers.map((client, i) => ({ client, events: events[i]! })),
        window,
        idleTimeoutMs,
      );
      const result = await flood.run();
      if (!baseline || result.lost > 0 || (baseline.lost === 0 && result.rate > baseline.rate)) {
        baseline = result;
        baselineCpu = processUsage(broker.child.pid!).cpuSeconds - brokerCpu;
      }
    }
    if (!baseline) throw new Error('BENCH_BASELINE_RUNS must be at least 1');
    await closeAll([subscriber, ...publishers]);

    // Skyvault, end to end.
    step('Skyvault: file_upload_callback');
    const serverCpu = processUsage(skyvault.child.pid!).cpuSeconds;
    flood = new Flood(
      dockClients.map((client, i) => ({ client, events: events[i]! })),
      window,
      idleTimeoutMs,
    );
    const skyvaultResult = await flood.run();
    const usage = processUsage(skyvault.child.pid!);
    const recorded = (await fileTotal()) - filesBefore;
    flood = undefined;
    await closeAll(dockClients);

    const row = (name: string, r: FloodResult) =>
      `| ${name} | ${r.rate.toFixed(0)} | ${(r.rate / baseline.rate).toFixed(2)} | ${r.lost} |`;
    process.stdout.write(
      [
        '',
        `${docks} docks × ${perDock} events = ${total} file_upload_callback:`,
        '| what | events/s | ratio to raw broker | lost replies |',
        '|---|---|---|---|',
        row('aedes delivery, same messages (baseline)', baseline),
        row('Skyvault file_upload_callback, reply received', skyvaultResult),
        `Files recorded: ${recorded} of ${total}. CPU during the run: aedes ${baselineCpu.toFixed(2)} s, ` +
          `Skyvault ${(usage.cpuSeconds - serverCpu).toFixed(2)} s (${baseline.seconds.toFixed(2)} s and ` +
          `${skyvaultResult.seconds.toFixed(2)} s of wall time). Server peak RSS so far: ${usage.peakRssMb.toFixed(0)} MB.`,
        `Server log: ${summarizeLog(skyvault.log.slice(logFrom))}`,
      ].join('\n') + '\n',
    );
    for (const [name, r] of [
      ['aedes', baseline],
      ['Skyvault', skyvaultResult],
    ] as const) {
      if (r.lost > 0) problems.push(`${docks} docks, ${name}: ${r.lost} of ${r.sent} sent got no reply`);
      if (r.unsent > 0) problems.push(`${docks} docks, ${name}: ${r.unsent} never sent (windows stalled)`);
      if (r.refused > 0)
        problems.push(`${docks} docks, ${name}: ${r.refused} replies with a non-zero result`);
      if (r.duplicates > 0)
        problems.push(`${docks} docks, ${name}: ${r.duplicates} duplicate or unknown replies`);
      if (r.publishErrors > 0) problems.push(`${docks} docks, ${name}: ${r.publishErrors} publishes failed`);
    }
    if (unexpectedCloses > closesBefore)
      problems.push(`${docks} docks: ${unexpectedCloses - closesBefore} connections closed unexpectedly`);
    for (const error of clientErrors.slice(errorsBefore, errorsBefore + 5))
      problems.push(`${docks} docks: MQTT client error ${error}`);
    if (recorded !== total)
      problems.push(`${docks} docks: ${recorded} new files recorded, ${total} expected`);
  }
  for (const problem of problems) process.stdout.write(`FAILED: ${problem}\n`);
  if (problems.length > 0) process.exitCode = 1;
} finally {
  await closeAll([...open], true);
  await broker.stop();
  await skyvault.stop();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
}
