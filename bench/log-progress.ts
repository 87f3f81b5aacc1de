/**
 * Benchmark: DJI Dock `fileupload_progress` events (docs/protocol.md §5.5) ingested per second end to end
 * while D docks upload their logs at once (published by simulated docks, matched to their log upload and
 * recorded by Skyvault, acknowledged with `events_reply`), against the delivery rate of a standalone
 * aedes 2 (the broker Skyvault embeds) for the same messages in the same run; the server's CPU per event
 * against the broker's per message, and its RSS.
 *
 * For each dock count D (BENCH_DOCKS), with E events per dock:
 * 1. D docks (MQTT 5, one connection each, from this process) log in with the admin's MQTT credentials,
 *    come online with `update_topo` (one aircraft each) and answer every `services` message `{result: 0}`.
 * 2. Setup, not measured: one log upload per dock through the HTTP API (`POST …/devices/{sn}/logs`, the
 *    dock's and its aircraft's logs: two files), UPLOAD_CONCURRENCY at once; Skyvault sends
 *    `fileupload_start`, whose object keys the dock reports back in its progress.
 * 3. Baseline: D publishers on the standalone broker publish the same D×E payloads (same topics and
 *    bytes, QoS 1) to one subscriber of `thing/product/+/events`; a message is done when it arrives. Best
 *    of BENCH_BASELINE_RUNS runs.
 * 4. Skyvault: each dock publishes its E progress events for its upload (bid = the upload's id):
 *    `file_pull`, `file_zip`, `file_uploading` with rising progress, `ok` last, both files in each, all
 *    with need_reply 1 at QoS 1; an event is done when the `events_reply` with its tid arrives.
 * In both, a publisher keeps at most BENCH_WINDOW messages not done, and the rate is messages done over the
 * time from the first publish to the last completion. A message is lost when it is still not done after
 * BENCH_REPLY_TIMEOUT_SECONDS without any progress. Skyvault acknowledges progress it cannot match too
 * (fileupload-progress.ts), so afterwards every dock's upload must read done (status 2, both files `ok`
 * at 100%) through `GET …/logs-uploaded`.
 * Exit code 1 when a message was lost, refused or answered twice, or an upload is not done.
 *
 * Run: `npm run bench -- log-progress` (BENCH_DOCKS=1000, or a list such as 100,1000;
 * BENCH_EVENTS_PER_DOCK=10; BENCH_WINDOW=4; BENCH_REPLY_TIMEOUT_SECONDS=30; BENCH_BASELINE_RUNS=3;
 * BENCH_DATABASE_URL=postgres://… runs on a fresh PostgreSQL database created on that server instead of
 * SQLite; BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchDatabase, deviceLogin, postJson, processUsage, startScript, startSkyvault } from './helpers.ts';
import {
  baselineFlood,
  closeAll,
  troubleMark,
  cpuSecondsOfCommand,
  currentRssMb,
  Flood,
  type FloodMessage,
  type FloodResult,
  floodProblems,
  machineCpu,
  onlineDocks,
  openClients,
  parseReply,
  positiveInts,
  Requests,
  sampleRss,
  summarizeLog,
} from './mqtt-flood.ts';
import { compared, type Figure, recordFigures } from './report.ts';

const dockCounts = positiveInts('BENCH_DOCKS', '1000');
const eventsPerDock = positiveInts('BENCH_EVENTS_PER_DOCK', '10')[0]!;
const window = positiveInts('BENCH_WINDOW', '4')[0]!;
const idleTimeoutMs = positiveInts('BENCH_REPLY_TIMEOUT_SECONDS', '30')[0]! * 1000;
const baselineRuns = positiveInts('BENCH_BASELINE_RUNS', '3')[0]!;
if (new Set(dockCounts).size !== dockCounts.length)
  throw new Error('BENCH_DOCKS: each dock count once (the dock SNs are made of it)');

/** Uploads started at once (HTTP → fileupload_start → services_reply), and uploads checked at once. */
const UPLOAD_CONCURRENCY = 32;
const password = 'bench-password';
/** What a dock reports about each archive: a 3-step export (pull, zip, upload) of a few MB. */
const TOTAL_STEPS = 3;
const ARCHIVE_BYTES = 4_718_592;
const UPLOAD_RATE = 1_048_576;

/** A dock's log upload as started: its id (the progress events' bid) and the files fileupload_start named. */
interface Upload {
  taskId: string;
  files: { module: '0' | '3'; deviceSn: string; objectKey: string }[];
}

/** What the dock got in `fileupload_start` (docs/protocol.md §5.4), as far as it needs. */
interface StartMessage {
  tid: string;
  bid: string;
  method: string;
  data?: { params?: { files?: { module: string; object_key: string; device_sn: string }[] } };
}

/**
 * A dock's E progress events for one upload, as a dock sends them: `file_pull`, `file_zip`, then
 * `file_uploading` with rising progress, `ok` last (fewer events drop the middle statuses first; a single
 * event is `ok`). Both files move together, as a dock reports them.
 */
function progressEvents(sn: string, upload: Upload, count: number): FloodMessage[] {
  const running = count - 1;
  const uploading = Math.max(0, running - 2);
  const fingerprints = new Map(upload.files.map((f) => [f.module, randomUUID().replaceAll('-', '')]));
  return Array.from({ length: count }, (_, k) => {
    let status: string;
    let step: number;
    let progress: number;
    let rate = 0;
    if (k === running) [status, step, progress] = ['ok', TOTAL_STEPS, 100];
    else if (k === 0) [status, step, progress] = ['file_pull', 1, 100];
    else if (k === 1) [status, step, progress] = ['file_zip', 2, 100];
    else {
      [status, step, progress] = ['file_uploading', 3, Math.round((100 * (k - 1)) / (uploading + 1))];
      rate = UPLOAD_RATE;
    }
    const tid = randomUUID();
    const body = JSON.stringify({
      tid,
      bid: upload.taskId,
      timestamp: Date.now(),
      gateway: sn,
      method: 'fileupload_progress',
      need_reply: 1,
      data: {
        result: 0,
        output: {
          status,
          ext: {
            files: upload.files.map((f) => ({
              module: f.module,
              device_sn: f.deviceSn,
              key: f.objectKey,
              fingerprint: fingerprints.get(f.module),
              size: ARCHIVE_BYTES,
              progress: {
                current_step: step,
                total_step: TOTAL_STEPS,
                progress,
                finish_time: status === 'ok' ? Date.now() : 0,
                upload_rate: rate,
                result: 0,
                status,
              },
            })),
          },
        },
      },
    });
    return { tid, topic: `thing/product/${sn}/events`, body };
  });
}

/** Runs `work(i)` for i in 0..count-1, `concurrency` at a time. */
async function eachLimited(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

const dir = mkdtempSync(path.join(tmpdir(), 'skyvault-bench-log-progress-'));
const database = await benchDatabase();
const skyvault = await startSkyvault({
  SKYVAULT_DATA_DIR: dir,
  SKYVAULT_ADMIN_PASSWORD: password,
  // No upload may time out while the benchmark runs, and setup sends up to UPLOAD_CONCURRENCY
  // fileupload_start at once to docks that share this process: give them time to answer.
  SKYVAULT_LOG_UPLOAD_TIMEOUT: '3600',
  SKYVAULT_DEVICE_REPLY_TIMEOUT: '10000',
  ...database.env,
});
const broker = await startScript<{ port: number }>('bench/aedes-server.ts');
const problems: string[] = [];
try {
  if (!skyvault.mqttUrl) throw new Error('skyvault serve printed no embedded MQTT broker address');
  const serverPid = skyvault.child.pid!;
  const { token, ws, account } = await deviceLogin(skyvault.url, password);
  const brokerUrl = `mqtt://127.0.0.1:${broker.ready.port}`;
  const logsUrl = (sn: string) => `${skyvault.url}/manage/api/v1/workspaces/${ws}/devices/${sn}`;

  process.stdout.write(
    `${dockCounts.join(' and ')} docks, fileupload_progress events per dock: ${eventsPerDock} ` +
      `(one log upload per dock, 2 files: the dock's and its aircraft's); ` +
      `MQTT 5, QoS 1, at most ${window} events outstanding per dock, loopback; ` +
      `baseline: best of ${baselineRuns}; ` +
      `database: ${database.url ? 'PostgreSQL' : 'SQLite'}; storage: embedded\n`,
  );

  for (const docks of dockCounts) {
    const total = docks * eventsPerDock;
    const snOf = (i: number) => `LOGDOCK-${docks}-${i}`;
    const aircraftSnOf = (i: number) => `LOGUAV-${docks}-${i}`;
    const logFrom = skyvault.log.length;
    const trouble = troubleMark(`${docks} docks`);
    const step = (text: string) => process.stderr.write(`[${docks} docks] ${text}\n`);
    const rssIdle = currentRssMb(serverPid);

    // Skyvault's docks: online, bound, answering services; fileupload_start remembered by its bid.
    step('docks connecting, update_topo');
    const requests = new Requests();
    const starts = new Map<string, StartMessage>();
    let flood: Flood | undefined;
    const dockClients = await onlineDocks({
      url: skyvault.mqttUrl,
      account,
      count: docks,
      snOf,
      aircraftSnOf,
      requests,
      extraTopics: (sn) => [`thing/product/${sn}/services`],
      onMessage: (topic, payload, client) => {
        if (topic.endsWith('/services')) {
          const message = parseReply(payload) as StartMessage;
          if (message.method === 'fileupload_start') starts.set(message.bid, message);
          const reply = {
            tid: message.tid,
            bid: message.bid,
            timestamp: Date.now(),
            method: message.method,
            data: { result: 0 },
          };
          client.publish(`${topic}_reply`, JSON.stringify(reply), { qos: 1 });
          return;
        }
        const reply = parseReply(payload);
        if (topic.endsWith('/events_reply')) flood?.done(reply.tid, Number(reply.data?.result) === 0);
        else requests.answer(reply);
      },
    });

    // One log upload per dock, started as the web app starts it.
    step(`starting ${docks} log uploads`);
    const setupStarted = performance.now();
    const uploads: Upload[] = new Array<Upload>(docks);
    await eachLimited(docks, UPLOAD_CONCURRENCY, async (i) => {
      const sn = snOf(i);
      const bootLog = { boot_index: 1, start_time: 1, end_time: 2, size: 3 };
      const answer = await postJson<{ code: number; message: string; data: string }>(
        `${logsUrl(sn)}/logs`,
        {
          logs_information: 'bench',
          files: [
            { device_sn: sn, module: '3', list: [bootLog] },
            { device_sn: aircraftSnOf(i), module: '0', list: [bootLog] },
          ],
        },
        token,
      );
      if (answer.code !== 0) throw new Error(`starting the log upload of ${sn}: ${answer.message}`);
      const start = starts.get(answer.data);
      const files = start?.data?.params?.files ?? [];
      if (files.length !== 2)
        throw new Error(`${sn} got no fileupload_start with 2 files for ${answer.data}`);
      uploads[i] = {
        taskId: answer.data,
        files: files.map((f) => ({
          module: f.module === '0' ? '0' : '3',
          deviceSn: f.device_sn,
          objectKey: f.object_key,
        })),
      };
    });
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    const events = uploads.map((upload, i) => progressEvents(snOf(i), upload, eventsPerDock));

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
    step('Skyvault: fileupload_progress');
    const rssBefore = currentRssMb(serverPid);
    const serverCpu = processUsage(serverPid).cpuSeconds;
    const rss = sampleRss(serverPid);
    const machineBefore = machineCpu();
    const benchCpuBefore = process.cpuUsage();
    const postgresCpuBefore = database.url ? cpuSecondsOfCommand('postgres') : 0;
    flood = new Flood(
      dockClients.map((client, i) => ({ client, events: events[i]! })),
      window,
      idleTimeoutMs,
    );
    const skyvaultResult = await flood.run();
    const usage = processUsage(serverPid);
    const rssPeak = rss.stop();
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const postgresCpu = database.url ? cpuSecondsOfCommand('postgres') - postgresCpuBefore : 0;
    const machineAfter = machineCpu();
    const machineBusy = machineAfter.busySeconds - machineBefore.busySeconds;
    const machineShare = machineBusy / (machineAfter.totalSeconds - machineBefore.totalSeconds);
    const skyvaultCpu = usage.cpuSeconds - serverCpu;
    flood = undefined;

    // Every upload done, with both files uploaded, as the web API shows it.
    step('checking every upload');
    let done = 0;
    const notDone: string[] = [];
    await eachLimited(docks, UPLOAD_CONCURRENCY, async (i) => {
      const response = await fetch(`${logsUrl(snOf(i))}/logs-uploaded?page=1&page_size=1`, {
        headers: { 'x-auth-token': token },
      });
      const body = (await response.json()) as {
        code: number;
        data?: {
          list: { logs_id: string; status: number; logs_progress: { status: string; progress: number }[] }[];
        };
      };
      const task = body.data?.list[0];
      const ok =
        body.code === 0 &&
        task?.logs_id === uploads[i]!.taskId &&
        task.status === 2 &&
        task.logs_progress.length === 2 &&
        task.logs_progress.every((f) => f.status === 'ok' && f.progress === 100);
      if (ok) done += 1;
      else notDone.push(`${snOf(i)}: ${JSON.stringify(task ?? body).slice(0, 300)}`);
    });
    const rssAfter = currentRssMb(serverPid);
    await closeAll(dockClients);

    const skyvaultCpuPerEvent = (skyvaultCpu * 1000) / Math.max(1, total - skyvaultResult.lost);
    const baselineCpuPerEvent = (baselineCpu * 1000) / Math.max(1, total - baseline.lost);
    const row = (name: string, r: FloodResult, cpuMs: number) =>
      `| ${name} | ${r.rate.toFixed(0)} | ${(r.rate / baseline.rate).toFixed(2)} | ${r.lost} | ` +
      `${cpuMs.toFixed(3)} | ${(cpuMs / baselineCpuPerEvent).toFixed(1)} |`;
    process.stdout.write(
      [
        '',
        `${docks} docks × ${eventsPerDock} events = ${total} fileupload_progress (2 files each):`,
        '| what | events/s | ratio to raw broker | lost replies | CPU ms per event | CPU ratio to broker |',
        '|---|---|---|---|---|---|',
        row('aedes delivery, same messages (baseline)', baseline, baselineCpuPerEvent),
        row('Skyvault fileupload_progress, reply received', skyvaultResult, skyvaultCpuPerEvent),
        `Uploads done (status 2, both files ok): ${done} of ${docks}. Setup: ${docks} uploads started in ` +
          `${setupSeconds.toFixed(1)} s (${(docks / setupSeconds).toFixed(0)}/s). ` +
          `CPU during the run: aedes ${baselineCpu.toFixed(2)} s, Skyvault ${skyvaultCpu.toFixed(2)} s ` +
          `(${baseline.seconds.toFixed(2)} s and ${skyvaultResult.seconds.toFixed(2)} s of wall time); during ` +
          `Skyvault's, the docks (this process) ${((benchCpu.user + benchCpu.system) / 1e6).toFixed(2)} s and the ` +
          `whole machine ${machineBusy.toFixed(1)} s (${(machineShare * 100).toFixed(0)}% of all its cores busy)` +
          (database.url
            ? `, PostgreSQL's processes ${postgresCpu.toFixed(2)} s ` +
              `(${((postgresCpu * 1000) / Math.max(1, total - skyvaultResult.lost)).toFixed(3)} ms per event).`
            : '.'),
        `Server RSS: ${rssIdle.toFixed(0)} MB before the docks, ${rssBefore.toFixed(0)} MB after setup ` +
          `(before the flood), ${rssPeak.toFixed(0)} MB peak during the flood (+${(rssPeak - rssBefore).toFixed(0)}), ` +
          `${rssAfter.toFixed(0)} MB after; peak RSS so far (VmHWM) ${usage.peakRssMb.toFixed(0)} MB.`,
        `Server log: ${summarizeLog(skyvault.log.slice(logFrom))}`,
      ].join('\n') + '\n',
    );
    const aedes = { name: 'aedes delivery, same messages', value: baseline.rate };
    const figures: Figure[] = [
      compared('fileupload_progress, reply received', skyvaultResult.rate, 'events/s', aedes, 'higher'),
      compared(
        'server CPU per event',
        skyvaultCpuPerEvent,
        'ms',
        { name: 'aedes CPU per message', value: baselineCpuPerEvent },
        'lower',
      ),
      compared(
        'server RSS, peak in the flood',
        rssPeak,
        'MB',
        { name: 'after setup', value: rssBefore },
        'lower',
      ),
      { name: 'lost replies', value: skyvaultResult.lost, unit: 'events', better: 'lower' },
      { name: 'uploads not done', value: docks - done, unit: 'uploads', better: 'lower' },
      { name: 'setup: log uploads started', value: docks / setupSeconds, unit: 'uploads/s' },
    ];
    if (database.url)
      figures.push({
        name: "PostgreSQL's CPU per event",
        value: (postgresCpu * 1000) / Math.max(1, total - skyvaultResult.lost),
        unit: 'ms',
      });
    recordFigures(
      `log-progress, ${docks} docks × ${eventsPerDock} events, ${database.url ? 'PostgreSQL' : 'SQLite'}`,
      figures,
      { docks, eventsPerDock, window, baselineRuns, machineBusyShare: machineShare },
    );
    for (const [name, r] of [
      ['aedes', baseline],
      ['Skyvault', skyvaultResult],
    ] as const)
      problems.push(...floodProblems(`${docks} docks, ${name}`, r));
    problems.push(...trouble.since());
    if (done !== docks) problems.push(`${docks} docks: ${docks - done} uploads not done`);
    for (const line of notDone.slice(0, 5)) problems.push(`${docks} docks: not done: ${line}`);
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
