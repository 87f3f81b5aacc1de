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
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { benchDatabase, deviceLogin, processUsage, startScript, startSkyvault } from './helpers.ts';
import {
  baselineFlood,
  closeAll,
  troubleMark,
  Flood,
  type FloodMessage,
  type FloodResult,
  floodProblems,
  onlineDocks,
  openClients,
  parseReply,
  positiveInts,
  Requests,
  summarizeLog,
} from './mqtt-flood.ts';

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

/** Objects uploaded at once. */
const UPLOAD_CONCURRENCY = 32;
const password = 'bench-password';

/** One `file_upload_callback`, serialized once and published as is to both brokers. */
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
  const { token, ws, account } = await deviceLogin(skyvault.url, password);
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
    const trouble = troubleMark(`${docks} docks`);
    const step = (text: string) => process.stderr.write(`[${docks} docks] ${text}\n`);

    // Skyvault's docks: online and bound, with the objects their events name already in storage.
    step('docks connecting, update_topo');
    const requests = new Requests();
    let flood: Flood | undefined;
    const dockClients = await onlineDocks({
      url: skyvault.mqttUrl,
      account,
      count: docks,
      snOf,
      aircraftSnOf: (i) => `BENCHUAV-${docks}-${i}`,
      requests,
      onMessage: (topic, payload) => {
        const reply = parseReply(payload);
        if (topic.endsWith('/events_reply')) flood?.done(reply.tid, Number(reply.data?.result) === 0);
        else requests.answer(reply);
      },
    });
    const config = await requests.send(
      dockClients[0]!,
      `thing/product/${snOf(0)}/requests`,
      'storage_config_get',
      { module: 0 },
    );
    if (Number(config.data?.result) !== 0)
      throw new Error(`storage_config_get: result ${config.data?.result}`);
    const storage = config.data!.output as StorageConfig;
    const events = eventsOf(docks, perDock, storage.object_key_prefix.replace(/\/+$/, ''), snOf);
    step(`uploading ${total} objects`);
    await uploadAll(storage, events.flat());
    const filesBefore = await fileTotal();

    // Baseline: the same messages through a bare aedes, no Skyvault.
    step('baseline: aedes delivery');
    const { result: baseline, cpuSeconds: baselineCpu } = await baselineFlood({
      brokerUrl,
      brokerPid: broker.child.pid!,
      subscriberId: `bench-subscriber-${docks}`,
      snOf,
      events,
      window,
      idleTimeoutMs,
      runs: baselineRuns,
    });

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
      problems.push(...floodProblems(`${docks} docks, ${name}`, r));
    }
    problems.push(...trouble.since());
    if (recorded !== total)
      problems.push(`${docks} docks: ${recorded} new files recorded, ${total} expected`);
  }
  for (const problem of problems) process.stdout.write(`FAILED: ${problem}\n`);
  if (problems.length > 0) process.exitCode = 1;
} finally {
  await closeAll(openClients(), true);
  await broker.stop();
  await skyvault.stop();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
}
