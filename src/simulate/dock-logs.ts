/**
 * The remote logs of a simulated DJI Dock and its aircraft (docs/protocol.md §5), answered the way a real
 * dock answers them, so that a server's log feature can be tried and tested without hardware:
 * - `fileupload_list` (§5.3): a fixed set of boot sessions per device (5–8, derived from its SN; times in
 *   epoch ms, the newest ending just before the run began), `files` beside `result`;
 * - `fileupload_start` (§5.4): answered `{result: 0}` at once, then in the background: a tar of generated
 *   text logs per requested module, uploaded with the AWS SDK to exactly the given `object_key`, with
 *   `fileupload_progress` events (§5.5) under the start's bid: `file_pull` → `file_zip` →
 *   `file_uploading` (rising progress, while the upload really runs) → `ok` (`need_reply` 1, with key,
 *   MD5 fingerprint and size). One export at a time, as on a dock: another start is refused with 325009;
 * - `fileupload_update` cancel (§5.6): aborts the upload of those modules and reports them `canceled`.
 * DJI's examples have quirks a server must take, and the simulator sends them on purpose: one list item
 * with `end_ime` (decision §10.33), some events with `prgress` (§10.34) or without `total_step` (§10.35).
 * With a fail code, every export fails part way with it, as a dock with a full disk or a bad network does.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { TarArchive } from 'archiver';

/** `module` of the log owner (§5.1): always sent as a string, as DJI's examples do. */
export type LogModule = '0' | '3';

/** A cloud → dock service as the log part reads it. */
export interface ServiceRequest {
  bid: string;
  method?: string | undefined;
  data?: unknown;
}

/** The `services_reply` data, and what to do once that reply is on its way. */
export interface ServiceAnswer {
  data: Record<string, unknown>;
  then?: () => void;
}

/** How the log part publishes on the dock's `events` topic. */
export interface EventChannel {
  /** Publishes with this bid; with `needReply`, resolves true once the `events_reply` came, false if not. */
  event(method: string, data: Record<string, unknown>, bid: string, needReply: boolean): Promise<boolean>;
}

export interface DockLogsOptions {
  dockSn: string;
  aircraftSn: string;
  /** Pause between two `fileupload_progress` events, in milliseconds. */
  stepMs: number;
  /** A DJI result code every export fails with part way (e.g. 324018); undefined: exports succeed. */
  failCode?: number | undefined;
  /** The newest boot session ends a little before this (epoch milliseconds). */
  now: number;
  /** How long an upload to storage may take beyond its pacing, in milliseconds. */
  timeoutMs: number;
  /** A line for the operator. */
  say(text: string): void;
}

export interface BootLog {
  bootIndex: number;
  /** Epoch milliseconds. */
  startTime: number;
  endTime: number;
  /** Bytes, as the dock announces them (the archive is smaller). */
  size: number;
}

/** Result codes the dock answers with (docs/protocol.md §5.7). */
export const RESULT_BUSY_EXPORTING_LOGS = 325009;
/** "Log pull failed: upload failed": also the answer to a start the dock cannot use. */
export const RESULT_UPLOAD_FAILED = 324018;
/** Codes of a failure while compressing (§5.7); any other code fails the upload half way. */
const ZIP_FAILURES = new Set([324012, 324016, 324017]);

/** pull, zip, upload: the steps of `current_step` / `total_step`. */
const TOTAL_STEPS = 3;
/** The upload is sent in this many parts, one per step, with a progress event after each. */
const UPLOAD_PARTS = 4;

type FileStatus = 'file_pull' | 'file_zip' | 'file_uploading' | 'ok' | 'failed' | 'canceled';
const isTerminal = (status: FileStatus) => status === 'ok' || status === 'failed' || status === 'canceled';

interface StorageTarget {
  bucket: string;
  region: string;
  endpoint: string;
  provider: string;
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
}

interface LogFile {
  module: LogModule;
  deviceSn: string;
  key: string;
  logs: BootLog[];
  status: FileStatus;
  step: number;
  progress: number;
  uploadRate: number;
  result: number;
  finishTime: number;
  fingerprint: string;
  archive: Buffer | undefined;
  /** Cancels this file's work (its upload included). */
  readonly cancel: AbortController;
}

interface LogTask {
  bid: string;
  files: LogFile[];
  storage: StorageTarget;
  /** Events sent so far: picks which quirks the next one has. */
  events: number;
  /** A terminal event went out: nothing more is sent. */
  finished: boolean;
  /** Stops the whole export without another event (the simulator ends). */
  readonly stop: AbortController;
  channel: EventChannel;
}

export class DockLogs {
  private readonly boots: Record<LogModule, BootLog[]>;
  private task: LogTask | undefined;
  /** Exports still running, and cancel events on their way: what stop() waits for. */
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: DockLogsOptions) {
    this.boots = {
      '0': bootLogsOf(options.aircraftSn, options.now),
      '3': bootLogsOf(options.dockSn, options.now),
    };
  }

  /** The answer to a log service, or undefined when `request` is another method. */
  answer(request: ServiceRequest, channel: EventChannel): ServiceAnswer | undefined {
    switch (request.method) {
      case 'fileupload_list':
        return { data: this.list(request.data) };
      case 'fileupload_start':
        return this.start(request, channel);
      case 'fileupload_update':
        return this.update(request.data);
      default:
        return undefined;
    }
  }

  /** Stops the running export (no further event) and waits until it has let go of everything. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.task?.stop.abort();
    await Promise.allSettled([...this.running]);
  }

  /** §5.3: one entry per known module asked for, `files` beside `result`. */
  private list(data: unknown): Record<string, unknown> {
    const files = modulesOf(record(data).module_list).map((module) => ({
      device_sn: this.ownerOf(module),
      module,
      result: 0,
      list: this.boots[module].map((log, i) => ({
        boot_index: log.bootIndex,
        start_time: log.startTime,
        // DJI's examples all have one item with this typo (decision §10.33): so does the simulator.
        [i === 1 ? 'end_ime' : 'end_time']: log.endTime,
        size: log.size,
      })),
    }));
    return { result: 0, files };
  }

  private start(request: ServiceRequest, channel: EventChannel): ServiceAnswer {
    if (this.task) {
      this.options.say(`refused the log export ${request.bid}: export ${this.task.bid} still runs`);
      return { data: { result: RESULT_BUSY_EXPORTING_LOGS } };
    }
    const parsed = this.parseStart(request.data);
    if (typeof parsed === 'string') {
      this.options.say(`refused the log export ${request.bid}: ${parsed}`);
      return { data: { result: RESULT_UPLOAD_FAILED } };
    }
    const task: LogTask = {
      bid: request.bid,
      ...parsed,
      events: 0,
      finished: false,
      stop: new AbortController(),
      channel,
    };
    this.task = task;
    const what = task.files
      .map((f) => `${f.deviceSn} boot ${f.logs.map((l) => l.bootIndex).join(', ')}`)
      .join('; ');
    this.options.say(`exporting logs (${what}) as task ${task.bid}`);
    return {
      data: { result: 0 },
      then: () => {
        const running = this.run(task).finally(() => {
          if (this.task === task) this.task = undefined;
          this.running.delete(running);
        });
        this.running.add(running);
      },
    };
  }

  /** §5.6: cancels the running export's files of those modules; answered `{result: 0}` in any case. */
  private update(data: unknown): ServiceAnswer {
    const { status, module_list: moduleList } = record(data);
    const task = this.task;
    if (status !== 'cancel' || !task) return { data: { result: 0 } };
    const modules = modulesOf(moduleList);
    const files = task.files.filter((f) => modules.includes(f.module) && !isTerminal(f.status));
    return {
      data: { result: 0 },
      then: () => {
        if (files.length === 0 || task.finished) return;
        for (const file of files) {
          file.status = 'canceled';
          file.result = 0;
          file.cancel.abort();
        }
        this.options.say(`canceled the log upload of ${files.map((f) => f.deviceSn).join(', ')}`);
        const live = task.files.some((f) => !isTerminal(f.status));
        // Nothing left to upload: `canceled` ends the task; else the others go on.
        this.track(this.emit(task, live ? currentStatus(task) : 'canceled', 0));
      },
    };
  }

  /** pull → zip → upload each file → ok; each step an event, `stepMs` apart. */
  private async run(task: LogTask): Promise<void> {
    const { stepMs, failCode } = this.options;
    const live = () => task.files.filter((f) => !isTerminal(f.status));
    const pause = () => sleep(stepMs, undefined, { signal: task.stop.signal });
    let s3: S3Client | undefined;
    try {
      for (const f of live()) Object.assign(f, { status: 'file_pull', step: 1, progress: 0 });
      await this.emit(task, 'file_pull', 0);
      await pause();

      for (const f of live()) Object.assign(f, { status: 'file_zip', step: 2, progress: 0 });
      await this.emit(task, 'file_zip', 0);
      for (const f of live()) {
        f.archive = await logArchive(f.deviceSn, f.module, f.logs);
        f.fingerprint = createHash('md5').update(f.archive).digest('hex');
        f.progress = 100;
      }
      await pause();
      if (live().length === 0) return;
      if (failCode !== undefined && ZIP_FAILURES.has(failCode)) return await this.fail(task, failCode);

      s3 = clientOf(task.storage);
      for (const file of task.files) {
        if (isTerminal(file.status)) continue;
        const uploaded = await this.upload(task, file, s3);
        if (task.stop.signal.aborted || task.finished) return;
        if (uploaded === 'failed') return await this.fail(task, failCode ?? RESULT_UPLOAD_FAILED);
        if (uploaded === 'canceled') continue;
        Object.assign(file, { status: 'ok', progress: 100, finishTime: Date.now() });
        this.options.say(
          `uploaded the logs of ${file.deviceSn} (${file.archive!.length} bytes, MD5 ${file.fingerprint}) to ${file.key}`,
        );
        if (live().length > 0) await this.emit(task, 'file_uploading', 0);
      }
      if (task.files.some((f) => f.status === 'ok')) await this.emit(task, 'ok', 0);
    } catch (error) {
      if (task.stop.signal.aborted || task.finished) return;
      this.options.say(`log export ${task.bid} failed: ${(error as Error).message}`);
      await this.fail(task, RESULT_UPLOAD_FAILED).catch(() => undefined);
    } finally {
      s3?.destroy();
    }
  }

  /**
   * Uploads one archive in UPLOAD_PARTS paced parts with an event after each, so a watcher sees the
   * progress rise; a fail code (not a compression one) breaks it off half way.
   */
  private async upload(task: LogTask, file: LogFile, s3: S3Client): Promise<'ok' | 'failed' | 'canceled'> {
    const { stepMs, failCode, timeoutMs } = this.options;
    const archive = file.archive!;
    const partSize = Math.ceil(archive.length / UPLOAD_PARTS);
    // A pretend link speed: one part per step.
    const rate = Math.round(partSize / (Math.max(stepMs, 1) / 1000));
    Object.assign(file, { status: 'file_uploading', step: 3, progress: 0, uploadRate: 0 });
    await this.emit(task, 'file_uploading', 0);

    const breakOff = new AbortController();
    const signal = AbortSignal.any([
      file.cancel.signal,
      task.stop.signal,
      breakOff.signal,
      AbortSignal.timeout(timeoutMs + (UPLOAD_PARTS + 1) * stepMs),
    ]);
    const emit = (part: number) => {
      Object.assign(file, { progress: Math.round((part / UPLOAD_PARTS) * 100), uploadRate: rate });
      return this.emit(task, 'file_uploading', 0);
    };
    // The body never fails by itself (the SDK would not handle that error): an abort of `signal` fails
    // the request, and the body just stops.
    async function* paced() {
      try {
        for (let part = 0; part < UPLOAD_PARTS; part++) {
          if (part > 0) {
            await emit(part);
            if (failCode !== undefined && part === UPLOAD_PARTS / 2) breakOff.abort();
            await sleep(stepMs, undefined, { signal });
          }
          yield archive.subarray(part * partSize, (part + 1) * partSize);
        }
      } catch {
        breakOff.abort();
      }
    }
    const body = Readable.from(paced());
    try {
      await sleep(stepMs, undefined, { signal });
      await s3.send(
        new PutObjectCommand({
          Bucket: task.storage.bucket,
          Key: file.key,
          Body: body,
          ContentLength: archive.length,
          ContentType: 'application/x-tar',
        }),
        { abortSignal: signal },
      );
      return 'ok';
    } catch (error) {
      body.destroy();
      if (file.cancel.signal.aborted) return 'canceled';
      if (task.stop.signal.aborted || breakOff.signal.aborted) return 'failed';
      this.options.say(`the upload of ${file.key} failed: ${(error as Error).message}`);
      return 'failed';
    }
  }

  /** Every unfinished file and the task end `failed` with `code`. */
  private async fail(task: LogTask, code: number): Promise<void> {
    if (task.finished) return;
    for (const f of task.files) {
      if (!isTerminal(f.status)) Object.assign(f, { status: 'failed', result: code, finishTime: Date.now() });
    }
    this.options.say(`the log export ${task.bid} failed with result ${code}`);
    await this.emit(task, 'failed', code);
  }

  /** One `fileupload_progress` (§5.5) with the task's files as they are now. */
  private async emit(task: LogTask, status: FileStatus, result: number): Promise<void> {
    if (task.finished || task.stop.signal.aborted) return;
    const terminal = isTerminal(status);
    if (terminal) {
      task.finished = true;
      // The dock takes a new export from now on; the acknowledgement of `ok` may come later.
      if (this.task === task) this.task = undefined;
    }
    const n = task.events++;
    const data = {
      result,
      output: { status, ext: { files: task.files.map((f) => fileReport(f, n, status === 'ok')) } },
    };
    // Only the final `ok` asks for an acknowledgement. None coming is no failure (a dock does not mind),
    // and the export does not wait for it: stopping the simulator must not either.
    const needReply = status === 'ok';
    const sent = task.channel.event('fileupload_progress', data, task.bid, needReply);
    if (!needReply) {
      await sent;
      return;
    }
    void sent.then((acknowledged) => {
      if (!acknowledged && !this.stopped)
        this.options.say(`no events_reply to the final fileupload_progress of ${task.bid}`);
    });
  }

  private track(sending: Promise<void>): void {
    const tracked = sending
      .catch((error: unknown) =>
        this.options.say(`a log progress event was lost: ${(error as Error).message}`),
      )
      .finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  private parseStart(
    data: unknown,
  ): Omit<LogTask, 'bid' | 'events' | 'finished' | 'stop' | 'channel'> | string {
    const d = record(data);
    const c = record(d.credentials);
    const text = (value: unknown) => (typeof value === 'string' ? value : '');
    const storage: StorageTarget = {
      bucket: text(d.bucket),
      region: text(d.region),
      endpoint: text(d.endpoint),
      provider: text(d.provider),
      accessKeyId: text(c.access_key_id),
      accessKeySecret: text(c.access_key_secret),
      securityToken: text(c.security_token),
    };
    if (!storage.bucket || !storage.endpoint || !storage.accessKeyId || !storage.accessKeySecret)
      return 'no bucket, endpoint and credentials';
    const wanted = record(d.params).files;
    const files: LogFile[] = [];
    for (const item of Array.isArray(wanted) ? wanted : []) {
      const f = record(item);
      const [module] = modulesOf([f.module]);
      const key = text(f.object_key);
      if (!module || !key) continue;
      const indexes = (Array.isArray(f.list) ? f.list : [])
        .map((entry) => Number(record(entry).boot_index))
        .filter((index) => Number.isInteger(index));
      files.push({
        module,
        deviceSn: this.ownerOf(module),
        key,
        logs: indexes.map((index) => this.bootLog(module, index)),
        status: 'file_pull',
        step: 1,
        progress: 0,
        uploadRate: 0,
        result: 0,
        finishTime: 0,
        fingerprint: '',
        archive: undefined,
        cancel: new AbortController(),
      });
    }
    if (files.length === 0) return 'no file with a module ("0" or "3") and an object_key';
    return { files, storage };
  }

  private ownerOf(module: LogModule): string {
    return module === '0' ? this.options.aircraftSn : this.options.dockSn;
  }

  /** A listed boot session, or one made up for an index the list never had (the dock is lenient). */
  private bootLog(module: LogModule, index: number): BootLog {
    const known = this.boots[module].find((log) => log.bootIndex === index);
    if (known) return known;
    const end = this.options.now - 3_600_000;
    return { bootIndex: index, startTime: end - 1_800_000, endTime: end, size: 512 * 1024 };
  }
}

/** The task's status while files are still on their way: the furthest step any of them reached. */
function currentStatus(task: LogTask): FileStatus {
  const live = task.files.filter((f) => !isTerminal(f.status));
  if (live.some((f) => f.status === 'file_uploading') || task.files.some((f) => f.status === 'ok'))
    return 'file_uploading';
  return live.some((f) => f.status === 'file_zip') ? 'file_zip' : 'file_pull';
}

/**
 * One entry of `output.ext.files`. The n-th event of a task has DJI's quirks in a fixed mix: every third
 * spells `prgress`, every fourth leaves out `total_step`, and the final `ok` has no `total_step` either,
 * like the docs' own example.
 */
function fileReport(file: LogFile, n: number, final: boolean): Record<string, unknown> {
  const progress: Record<string, number | string> = { current_step: file.step };
  if (!final && n % 4 !== 2) progress.total_step = TOTAL_STEPS;
  progress[!final && n % 3 === 1 ? 'prgress' : 'progress'] = file.progress;
  Object.assign(progress, {
    finish_time: file.finishTime,
    upload_rate: file.uploadRate,
    result: file.result,
    status: file.status,
  });
  return {
    module: file.module,
    device_sn: file.deviceSn,
    key: file.key,
    fingerprint: file.fingerprint,
    size: file.archive?.length ?? 0,
    progress,
  };
}

/**
 * A device's boot sessions: 5–8, always the same for one SN (drawn from its hash), consecutive boot
 * indexes, the newest ending a few minutes before `now`, each lasting 20 minutes to 3 hours with hours
 * between them; announced sizes from a few hundred KB to a few MB.
 */
export function bootLogsOf(sn: string, now: number): BootLog[] {
  const random = seeded(sn);
  const count = 5 + Math.floor(random() * 4);
  const firstIndex = 100 + Math.floor(random() * 400);
  const logs: BootLog[] = [];
  let end = Math.floor(now / 1000) * 1000 - (2 + Math.floor(random() * 8)) * 60_000;
  for (let i = count - 1; i >= 0; i--) {
    const duration = (20 + Math.floor(random() * 160)) * 60_000;
    logs.unshift({
      bootIndex: firstIndex + i,
      startTime: end - duration,
      endTime: end,
      size: (200 + Math.floor(random() * 3800)) * 1024,
    });
    end -= duration + (1 + Math.floor(random() * 20)) * 3_600_000;
  }
  return logs;
}

/** A tar of one generated text log per boot session (tens of KB each: uploads stay quick). */
export async function logArchive(owner: string, module: LogModule, logs: BootLog[]): Promise<Buffer> {
  const archive = new TarArchive();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(archive, 'end');
  for (const log of logs) {
    archive.append(logText(owner, module, log), {
      name: `${owner}/boot_${log.bootIndex}.log`,
      date: new Date(log.endTime),
    });
  }
  await archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}

const AIRCRAFT_LINES = [
  (r: () => number) => `[battery] level ${40 + Math.floor(r() * 60)} %, ${(44 + r() * 8).toFixed(1)} V`,
  (r: () => number) =>
    `[gnss] fix 3D, ${12 + Math.floor(r() * 20)} satellites, rtk ${r() < 0.8 ? 'fixed' : 'float'}`,
  (r: () => number) => `[imu] temperature ${(38 + r() * 8).toFixed(1)} C, bias ok`,
  (r: () => number) =>
    `[link] rssi ${-50 - Math.floor(r() * 40)} dBm, bitrate ${(4 + r() * 12).toFixed(1)} Mbit/s`,
  (r: () => number) => `[fc] altitude ${(r() * 120).toFixed(1)} m, speed ${(r() * 15).toFixed(1)} m/s`,
];
const DOCK_LINES = [
  (r: () => number) =>
    `[env] temperature ${(15 + r() * 20).toFixed(1)} C, humidity ${30 + Math.floor(r() * 50)} %`,
  (r: () => number) => `[power] input ${(220 + r() * 10).toFixed(1)} V, charging ${(r() * 12).toFixed(1)} A`,
  (r: () => number) => `[cover] ${r() < 0.5 ? 'closed' : 'open'}, putter ok`,
  (r: () => number) =>
    `[net] uplink ${(5 + r() * 95).toFixed(1)} Mbit/s, latency ${10 + Math.floor(r() * 90)} ms`,
  (r: () => number) => `[wind] ${(r() * 12).toFixed(1)} m/s, rain ${r() < 0.9 ? 'none' : 'light'}`,
];

/** About size/16 of text (8 to 192 KB), lines spread over the session. */
function logText(owner: string, module: LogModule, log: BootLog): string {
  const random = seeded(`${owner}/${log.bootIndex}`);
  const kinds = module === '0' ? AIRCRAFT_LINES : DOCK_LINES;
  const target = Math.min(192 * 1024, Math.max(8 * 1024, Math.floor(log.size / 16)));
  const lines = [`${new Date(log.startTime).toISOString()} I [boot] ${owner} boot ${log.bootIndex} started`];
  let length = lines[0]!.length;
  const step = Math.max(1, Math.floor((log.endTime - log.startTime) / (target / 70)));
  for (let t = log.startTime + step; length < target && t < log.endTime; t += step) {
    const level = random() < 0.05 ? 'W' : 'I';
    const line = `${new Date(t).toISOString()} ${level} ${kinds[Math.floor(random() * kinds.length)]!(random)}`;
    lines.push(line);
    length += line.length + 1;
  }
  lines.push(`${new Date(log.endTime).toISOString()} I [boot] ${owner} boot ${log.bootIndex} shut down`);
  return `${lines.join('\n')}\n`;
}

/** A small deterministic generator (mulberry32) seeded by a string's SHA-256. */
function seeded(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The SDK's logger: silent (without one, it prints a warning of its own for every aborted upload). */
const QUIET = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

function clientOf(storage: StorageTarget): S3Client {
  return new S3Client({
    logger: QUIET,
    endpoint: storage.endpoint,
    region: storage.region || 'us-east-1',
    forcePathStyle: storage.provider === 'minio',
    credentials: {
      accessKeyId: storage.accessKeyId,
      secretAccessKey: storage.accessKeySecret,
      sessionToken: storage.securityToken,
    },
  });
}

/** `"0"` and `"3"` (or the numbers 0 and 3, decision §10.31), each once, in the order given. */
function modulesOf(value: unknown): LogModule[] {
  const modules = (Array.isArray(value) ? value : []).map(String);
  return [...new Set(modules)].filter((m): m is LogModule => m === '0' || m === '3');
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
