/**
 * `skyvault simulate dock`: virtual DJI Docks, each with an aircraft, that deliver flight media to a
 * Skyvault (or any DJI Cloud API server) over MQTT as real docks do (docs/protocol.md §1, §4), and answer
 * the remote-log services (§5) as real docks do.
 *
 * The operator logs in over HTTP only to learn the MQTT address and credentials, as an installer does
 * in Pilot 2. Then every dock, concurrently and on its own MQTT 5 connection:
 * 1. subscribes to its `status_reply`, `requests_reply`, `events_reply` and `services`;
 * 2. comes online with `update_topo` (dock 3-1-0 with an M30 aircraft, §1.5);
 * 3. asks `storage_config_get` for upload credentials (§4.1);
 * 4. announces `highest_priority_upload_flighttask_media` for its flight (§4.3);
 * 5. uploads generated DJI photos (every fifth file a short H.264 video instead) to
 *    `<object_key_prefix>/<flight id>/` with the AWS SDK and reports each with `file_upload_callback`
 *    (§4.2), waiting for every acknowledgement.
 * (With no files, steps 3–5 are left out: the dock only comes online.) Meanwhile it answers `services`:
 * the log services through dock-logs.ts, any other with `{result: 0}` (e.g. §4.4). With `stay`, the docks
 * then remain online, answering services, until the signal aborts: a server's log feature needs a dock
 * that is there when someone asks for its logs.
 *
 * Dock SNs are fixed (SIMDOCK0001, …) so that a second run reuses the same docks; every run is a new
 * flight (a new flight id, files stamped with the run's time), so it adds `count × files` files.
 * Every wait times out (10 s by default) and fails that dock with a sentence saying what did not come.
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import mqtt, { type MqttClient } from 'mqtt';
import { djiPhoto } from './dji-photo.ts';
import { djiVideo, VIDEO_EVERY } from './dji-video.ts';
import { DockLogs, type EventChannel, type ServiceAnswer } from './dock-logs.ts';
import { SimulationError } from './pilot.ts';

export interface SimulateDockOptions {
  url: string;
  username: string;
  password: string;
  /** Number of docks: SIMDOCK0001 … (at most 9999). */
  count?: number;
  /** Files each dock uploads: photos, every fifth one a video; 0 = the docks only come online. */
  files?: number;
  /** How long each wait (connection, reply, upload) may take, in milliseconds. */
  timeoutMs?: number;
  /**
   * After their media, the docks stay online answering services (remote logs included) until `signal`
   * aborts, or until their connections close when there is no signal.
   */
  stay?: boolean;
  /** Ends the run: a dock sends no further file, a staying dock goes offline, a log export stops. */
  signal?: AbortSignal;
  /** Pause between two `fileupload_progress` events of a log export, in milliseconds (default 400). */
  logStepMs?: number;
  /** A DJI result code (e.g. 324018) with which every log export fails part way. */
  failLogs?: number;
  out?: (line: string) => void;
  /** Redraws a progress line in place (terminals); else progress is printed as lines. */
  tty?: boolean;
}

export interface DockSimulationSummary {
  docks: number;
  /** Files uploaded to storage whose `file_upload_callback` was acknowledged with result 0. */
  uploaded: number;
  /** Files that failed, or that a failed dock never reached. */
  failed: number;
  /** `services` messages the docks answered. */
  servicesAnswered: number;
}

/** The DJI envelope (§1.1), as far as the simulator reads it. */
interface Envelope {
  tid: string;
  bid: string;
  method?: string;
  data?: { result?: unknown; output?: unknown } & Record<string, unknown>;
}

/** Answers one `services` message: its `services_reply` data, and what to do once that is sent. */
type ServiceHandler = (request: Envelope, link: DockLink) => ServiceAnswer;

interface StorageConfig {
  bucket: string;
  credentials: { access_key_id: string; access_key_secret: string; security_token: string; expire: number };
  endpoint: string;
  object_key_prefix: string;
  provider: string;
  region: string;
}

interface MqttAccount {
  url: string;
  username: string;
  password: string;
}

/** Dock 1 with an M30 (the model keys of the docs' examples, §4.2). */
const DOCK_MODEL = { domain: 3, type: 1, sub_type: 0 };
const AIRCRAFT_MODEL = { domain: 0, type: 67, sub_type: 0 };
const DRONE_MODEL_KEY = '0-67-0';
const PAYLOAD_MODEL_KEY = '1-53-0';
const THING_VERSION = '1.1.2';
/** `storage_config_get` result of a gateway bound to no workspace (Skyvault's value, docs/mqtt.md). */
const RESULT_NOT_BOUND = 314001;

/** The HTTP login (password hashing on a busy server) gets longer than the MQTT replies. */
const HTTP_TIMEOUT_MS = 30_000;
/** Log export pace: about 3 s per file (seven events), slow enough for a web page to show progress. */
const LOG_STEP_MS = 400;

export const MAX_DOCKS = 9999;
export const dockSn = (index: number) => `SIMDOCK${String(index).padStart(4, '0')}`;
export const aircraftSn = (index: number) => `SIMUAV${String(index).padStart(4, '0')}`;

export async function simulateDock(options: SimulateDockOptions): Promise<DockSimulationSummary> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const count = options.count ?? 1;
  const files = options.files ?? 5;
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (count < 1 || count > MAX_DOCKS)
    throw new SimulationError(`The number of docks must be 1 to ${MAX_DOCKS}.`);
  if (!Number.isInteger(files) || files < 0)
    throw new SimulationError('The number of files must be a whole number, 0 or more.');
  const { failLogs } = options;
  if (failLogs !== undefined && (!Number.isSafeInteger(failLogs) || failLogs <= 0))
    throw new SimulationError('The log failure code must be a positive whole number, such as 324018.');

  const account = await mqttAccount(options, out);
  out(`Docks connect to ${account.url} as "${account.username}".`);
  const progress = new Progress(count, count * files, out, options.tty ?? false);
  const summary: DockSimulationSummary = { docks: count, uploaded: 0, failed: 0, servicesAnswered: 0 };
  const startedAt = new Date();
  const logs = { stepMs: options.logStepMs ?? LOG_STEP_MS, failCode: failLogs };
  const staying = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      runDock({
        index: i + 1,
        files,
        account,
        timeoutMs,
        startedAt,
        progress,
        summary,
        logs,
        stay: options.stay ?? false,
        signal: options.signal,
      }),
    ),
  );
  progress.finish();
  const online = staying.filter((dock) => dock !== undefined);
  if (online.length > 0) {
    const docks = online.length === 1 ? '1 dock stays' : `${online.length} docks stay`;
    out(`${docks} online, answering services (remote logs too), until stopped with Ctrl-C.`);
    await Promise.all(online.map((dock) => stayOnline(dock, progress, options.signal)));
  }
  return summary;
}

/** Logs in as the H5 page does (flag 2) and takes the MQTT address and credentials of the account. */
async function mqttAccount(options: SimulateDockOptions, out: (line: string) => void): Promise<MqttAccount> {
  const base = options.url.replace(/\/+$/, '');
  const call = async <T>(method: 'GET' | 'POST', apiPath: string, token?: string, body?: unknown) => {
    let response: Response;
    try {
      response = await fetch(`${base}${apiPath}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { 'x-auth-token': token } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError')
        throw new SimulationError(`${base} did not answer ${apiPath} within ${seconds(HTTP_TIMEOUT_MS)}.`);
      const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
      throw new SimulationError(`Cannot reach ${base}: ${cause.replace(/\.$/, '')}.`);
    }
    const text = await response.text();
    try {
      return JSON.parse(text) as { code: number; message: string; data: T };
    } catch {
      throw new SimulationError(
        `${method} ${apiPath} answered HTTP ${response.status} without a DJI envelope: ${text.slice(0, 200)}`,
      );
    }
  };
  interface MqttFields {
    mqtt_addr?: string;
    mqtt_username?: string;
    mqtt_password?: string;
  }
  const login = await call<MqttFields & { access_token: string; workspace_id: string; username: string }>(
    'POST',
    '/manage/api/v1/login',
    undefined,
    { username: options.username, password: options.password, flag: 2 },
  );
  if (login.code !== 0) throw new SimulationError(`Login as "${options.username}" failed: ${login.message}`);
  let fields: MqttFields = login.data;
  if (!fields.mqtt_addr || !fields.mqtt_username || !fields.mqtt_password) {
    // DJI's demo answers them in users/current only.
    const current = await call<MqttFields>('GET', '/manage/api/v1/users/current', login.data.access_token);
    if (current.code !== 0) throw new SimulationError(`users/current failed: ${current.message}`);
    fields = current.data;
  }
  const { mqtt_addr: addr, mqtt_username: username, mqtt_password: password } = fields;
  if (!addr || !username || !password)
    throw new SimulationError(`${base} gave no MQTT address and credentials for "${options.username}".`);
  out(`Logged in as ${login.data.username} (workspace ${login.data.workspace_id}).`);
  return { url: mqttUrlOf(addr), username, password };
}

/** DJI's `mqtt_addr` (`tcp://`, `ssl://`, `ws://`, `wss://`) as MQTT.js wants it (`mqtt://`, `mqtts://`). */
export function mqttUrlOf(addr: string): string {
  const match = /^([a-z]+):\/\/(.+)$/i.exec(addr.trim());
  const scheme = match
    ? { tcp: 'mqtt', mqtt: 'mqtt', ssl: 'mqtts', tls: 'mqtts', mqtts: 'mqtts', ws: 'ws', wss: 'wss' }[
        match[1]!.toLowerCase()
      ]
    : undefined;
  if (!match || !scheme)
    throw new SimulationError(`The server gave an MQTT address that is not usable: "${addr}".`);
  return `${scheme}://${match[2]}`;
}

interface DockRun {
  index: number;
  files: number;
  account: MqttAccount;
  timeoutMs: number;
  startedAt: Date;
  progress: Progress;
  summary: DockSimulationSummary;
  logs: { stepMs: number; failCode: number | undefined };
  stay: boolean;
  signal: AbortSignal | undefined;
}

/** A dock left online after its media (`stay`), with its log part. */
interface StayingDock {
  sn: string;
  link: DockLink;
  logs: DockLogs;
}

/**
 * One dock's media run; never throws: failures are counted and printed. Resolves with the dock still
 * online when it is to stay, else after disconnecting it.
 */
async function runDock(run: DockRun): Promise<StayingDock | undefined> {
  const { index, progress, summary } = run;
  const sn = dockSn(index);
  const aircraft = aircraftSn(index);
  const logs = new DockLogs({
    dockSn: sn,
    aircraftSn: aircraft,
    stepMs: run.logs.stepMs,
    failCode: run.logs.failCode,
    now: run.startedAt.getTime(),
    timeoutMs: run.timeoutMs,
    say: (text) => progress.note(sn, text),
  });
  let link: DockLink | undefined;
  let s3: S3Client | undefined;
  let staying = false;
  /** Files done with, uploaded or failed. */
  let handled = 0;
  try {
    link = await DockLink.connect(sn, run.account, run.timeoutMs, (request, self) => {
      const answer = logs.answer(request, self) ?? { data: { result: 0 } };
      summary.servicesAnswered += 1;
      progress.step(sn, `answered the service ${request.method ?? '(no method)'}`);
      return answer;
    });

    const topo = await link.send('status', 'update_topo', {
      ...DOCK_MODEL,
      thing_version: THING_VERSION,
      sub_devices: [{ sn: aircraft, ...AIRCRAFT_MODEL, index: 'A', thing_version: THING_VERSION }],
    });
    expectResult(topo, 'update_topo');
    progress.online(sn, aircraft);
    if (run.files > 0) s3 = await deliverFlight(link);
    staying = run.stay && !run.signal?.aborted;
    return staying ? { sn, link, logs } : undefined;
  } catch (error) {
    summary.failed += run.files - handled;
    progress.dockFailed(sn, (error as Error).message, run.files - handled);
    return undefined;
  } finally {
    s3?.destroy();
    if (!staying) {
      await logs.stop();
      await link?.close();
    }
  }

  /** Steps 3–5 of the header: credentials, the flight's priority, then each file and its callback. */
  async function deliverFlight(link: DockLink): Promise<S3Client> {
    const storage = storageConfigOf(await link.send('requests', 'storage_config_get', { module: 0 }));
    const prefix = storage.object_key_prefix.replace(/\/+$/, '');
    const folder = (flightId: string) => (prefix ? `${prefix}/${flightId}` : flightId);
    progress.step(
      sn,
      `upload credentials for ${storage.endpoint}, bucket ${storage.bucket}, prefix ${prefix}`,
    );
    const s3 = new S3Client({
      endpoint: storage.endpoint,
      region: storage.region || 'us-east-1',
      forcePathStyle: storage.provider === 'minio',
      credentials: {
        accessKeyId: storage.credentials.access_key_id,
        secretAccessKey: storage.credentials.access_key_secret,
        sessionToken: storage.credentials.security_token,
      },
    });
    try {
      const flightId = randomUUID();
      expectResult(
        await link.send(
          'events',
          'highest_priority_upload_flighttask_media',
          { flight_id: flightId },
          { needReply: true },
        ),
        'highest_priority_upload_flighttask_media',
      );
      progress.step(sn, `flight ${flightId}: uploading its media first`);

      for (let i = 1; i <= run.files; i++) {
        if (run.signal?.aborted) throw new Error(`stopped before its last ${run.files - handled} files`);
        const media = await mediaOf(run, flightId, i);
        const objectKey = `${folder(flightId)}/${media.name}`;
        try {
          await upload(s3, storage.bucket, objectKey, media.bytes, media.contentType, run.timeoutMs);
          const ack = await link.send(
            'events',
            'file_upload_callback',
            {
              result: 0,
              file: {
                object_key: objectKey,
                path: folder(flightId),
                name: media.name,
                ext: {
                  flight_id: flightId,
                  drone_model_key: DRONE_MODEL_KEY,
                  payload_model_key: PAYLOAD_MODEL_KEY,
                  is_original: true,
                },
                metadata: media.metadata,
              },
            },
            { needReply: true },
          );
          expectResult(ack, 'file_upload_callback');
          handled += 1;
          summary.uploaded += 1;
          progress.fileDone(sn, media.name);
        } catch (error) {
          // A lost connection fails the dock (the remaining files with it); anything else only this file.
          if (link.closed) throw error;
          handled += 1;
          summary.failed += 1;
          progress.fileFailed(sn, media.name, (error as Error).message);
        }
      }
      return s3;
    } catch (error) {
      s3.destroy();
      throw error;
    }
  }
}

/** Keeps a dock online until `signal` aborts or its connection closes; then takes it offline. */
async function stayOnline(dock: StayingDock, progress: Progress, signal: AbortSignal | undefined) {
  const stopped = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.race([stopped, dock.link.closing]);
  if (dock.link.closed) progress.note(dock.sn, 'the MQTT connection closed: the dock is offline');
  await dock.logs.stop();
  await dock.link.close();
}

/**
 * Generated media of one flight: taken a few seconds apart, just before the run, near the dock. Every
 * VIDEO_EVERY-th file is a video, made unique by the flight (a dock's runs each upload new files).
 */
async function mediaOf(run: DockRun, flightId: string, i: number) {
  const offsetMinutes = -run.startedAt.getTimezoneOffset();
  const capturedAt = new Date(run.startedAt.getTime() - (run.files - i + 1) * 2000);
  const round = (n: number) => Math.round(n * 1e7) / 1e7;
  const latitude = round(22.5797 + run.index * 0.01 + i * 0.0001);
  const longitude = round(113.938 + i * 0.0001);
  const absoluteAltitude = 120 + i / 10;
  const relativeAltitude = 80;
  const gimbalYawDegree = -90 + i;
  const video = i % VIDEO_EVERY === 0;
  const bytes = video
    ? djiVideo(`dock ${flightId} ${i}`)
    : await djiPhoto({
        latitude,
        longitude,
        absoluteAltitude,
        relativeAltitude,
        gimbalYawDegree,
        capturedAt,
        utcOffsetMinutes: offsetMinutes,
        seed: run.index * 1000 + i,
      });
  const local = localParts(capturedAt, offsetMinutes);
  return {
    name: `DJI_${local.join('')}_${String(i).padStart(4, '0')}_W.${video ? 'MP4' : 'JPG'}`,
    bytes,
    contentType: video ? 'video/mp4' : 'image/jpeg',
    metadata: {
      absolute_altitude: absoluteAltitude,
      relative_altitude: relativeAltitude,
      gimbal_yaw_degree: gimbalYawDegree,
      // The dock's local time without a zone, as in the docs' example (§4.2).
      create_time: `${local.slice(0, 3).join('-')} ${local.slice(3).join(':')}`,
      shoot_position: { lat: latitude, lng: longitude },
    },
  };
}

/** [yyyy, MM, dd, HH, mm, ss] of a time at a UTC offset. */
function localParts(date: Date, offsetMinutes: number): string[] {
  const d = new Date(date.getTime() + offsetMinutes * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return [
    String(d.getUTCFullYear()),
    p(d.getUTCMonth() + 1),
    p(d.getUTCDate()),
    p(d.getUTCHours()),
    p(d.getUTCMinutes()),
    p(d.getUTCSeconds()),
  ];
}

async function upload(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Buffer,
  contentType: string,
  timeoutMs: number,
) {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }), {
      abortSignal: signal,
    });
  } catch (error) {
    if (signal.aborted)
      throw new Error(`the upload to storage took more than ${seconds(timeoutMs)}`, { cause: error });
    const e = error as Error & { Code?: string };
    const code = e.Code ?? (e.name === 'Error' ? undefined : e.name);
    throw new Error(
      `the upload to storage failed: ${code ? `${code}: ` : ''}${e.message.replace(/\.$/, '')}`,
      { cause: error },
    );
  }
}

function expectResult(reply: Envelope, method: string): void {
  const result = reply.data?.result;
  if (result === undefined || result === null || Number(result) !== 0)
    throw new Error(`${method} answered result ${JSON.stringify(result)}`);
}

function storageConfigOf(reply: Envelope): StorageConfig {
  const result = reply.data?.result;
  if (result === RESULT_NOT_BOUND)
    throw new Error(`storage_config_get answered result ${result}: the dock is bound to no workspace`);
  expectResult(reply, 'storage_config_get');
  const output = reply.data?.output as Partial<StorageConfig> | undefined;
  const c = output?.credentials;
  if (!output?.bucket || !output.endpoint || !c?.access_key_id || !c.access_key_secret)
    throw new Error('storage_config_get answered without bucket, endpoint and credentials');
  return { ...output, object_key_prefix: output.object_key_prefix ?? '' } as StorageConfig;
}

const seconds = (ms: number) => `${ms / 1000} s`;

type Family = 'status' | 'requests' | 'events';

/**
 * One dock's MQTT connection: publishes DJI envelopes on its own topics, resolves each with the reply of
 * the same tid on `<topic>_reply`, and answers services. Fails every wait at once when the connection
 * closes, so a lost broker costs no timeouts.
 */
class DockLink implements EventChannel {
  closed = false;
  /** Resolves when the connection has closed (for whatever reason). */
  readonly closing: Promise<void>;
  private lastError: string | undefined;
  private readonly waiting = new Map<
    string,
    { topic: string; resolve: (reply: Envelope) => void; reject: (error: Error) => void }
  >();

  private constructor(
    private readonly sn: string,
    private readonly client: MqttClient,
    private readonly timeoutMs: number,
    private readonly serve: ServiceHandler,
  ) {
    client.on('message', (topic, payload) => this.receive(topic, payload));
    client.on('error', (error) => (this.lastError = error.message));
    this.closing = new Promise((resolve) => {
      client.on('close', () => {
        this.closed = true;
        const reason = new Error(
          `the MQTT connection closed${this.lastError ? ` (${this.lastError})` : ''} while waiting for a reply`,
        );
        for (const wait of this.waiting.values()) wait.reject(reason);
        this.waiting.clear();
        resolve();
      });
    });
  }

  static async connect(
    sn: string,
    account: MqttAccount,
    timeoutMs: number,
    serve: ServiceHandler,
  ): Promise<DockLink> {
    let client: MqttClient;
    try {
      client = await mqtt.connectAsync(
        account.url,
        {
          username: account.username,
          password: account.password,
          clientId: sn,
          protocolVersion: 5,
          reconnectPeriod: 0,
          connectTimeout: timeoutMs,
        },
        false,
      );
    } catch (error) {
      throw new Error(`cannot connect to ${account.url}: ${(error as Error).message}`, { cause: error });
    }
    const link = new DockLink(sn, client, timeoutMs, serve);
    const filters = [
      `sys/product/${sn}/status_reply`,
      `thing/product/${sn}/requests_reply`,
      `thing/product/${sn}/events_reply`,
      `thing/product/${sn}/services`,
    ];
    try {
      const granted = await client.subscribeAsync(filters, { qos: 1 });
      const refused = granted.filter((g) => g.qos >= 128).map((g) => g.topic);
      if (refused.length > 0) throw new Error(`the broker refused the subscription to ${refused.join(', ')}`);
    } catch (error) {
      await link.close();
      throw error;
    }
    return link;
  }

  /**
   * Publishes `method` on the family's topic and resolves with the reply of the same tid. The bid is new
   * unless given (a business flow such as a log export keeps its own, §1.1).
   */
  async send(
    family: Family,
    method: string,
    data: unknown,
    options: { needReply?: boolean; bid?: string } = {},
  ): Promise<Envelope> {
    if (this.closed) throw new Error('the MQTT connection is closed');
    const topic = this.topicOf(family);
    const tid = randomUUID();
    const reply = new Promise<Envelope>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(tid);
        reject(new Error(`no ${family}_reply to ${method} within ${seconds(this.timeoutMs)}`));
      }, this.timeoutMs);
      const settle =
        <T>(fn: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          this.waiting.delete(tid);
          fn(value);
        };
      this.waiting.set(tid, { topic: `${topic}_reply`, resolve: settle(resolve), reject: settle(reject) });
    });
    try {
      await this.client.publishAsync(topic, this.envelope(tid, method, data, options), { qos: 1 });
    } catch (error) {
      this.waiting.get(tid)?.reject(new Error(`the broker refused ${method}: ${(error as Error).message}`));
    }
    return reply;
  }

  /**
   * An event of a business flow (its bid): with `needReply`, resolves whether its `events_reply` came in
   * time; without, once the broker took it (rejects when it could not).
   */
  async event(
    method: string,
    data: Record<string, unknown>,
    bid: string,
    needReply: boolean,
  ): Promise<boolean> {
    if (needReply) {
      try {
        await this.send('events', method, data, { needReply, bid });
        return true;
      } catch {
        return false;
      }
    }
    if (this.closed) throw new Error('the MQTT connection is closed');
    const message = this.envelope(randomUUID(), method, data, { needReply, bid });
    await this.client.publishAsync(this.topicOf('events'), message, { qos: 1 });
    return true;
  }

  async close(): Promise<void> {
    try {
      await this.client.endAsync();
    } catch {
      // Already gone: nothing left to flush.
    }
  }

  private topicOf(family: Family): string {
    return family === 'status' ? `sys/product/${this.sn}/status` : `thing/product/${this.sn}/${family}`;
  }

  private envelope(
    tid: string,
    method: string,
    data: unknown,
    options: { needReply?: boolean; bid?: string },
  ): string {
    return JSON.stringify({
      tid,
      bid: options.bid ?? randomUUID(),
      timestamp: Date.now(),
      gateway: this.sn,
      method,
      ...(options.needReply === undefined ? {} : { need_reply: options.needReply ? 1 : 0 }),
      data,
    });
  }

  private receive(topic: string, payload: Buffer): void {
    let message: Envelope;
    try {
      message = JSON.parse(payload.toString()) as Envelope;
    } catch {
      return;
    }
    if (typeof message?.tid !== 'string') return;
    if (topic === `thing/product/${this.sn}/services`) {
      this.answerService(message);
      return;
    }
    const wait = this.waiting.get(message.tid);
    if (wait?.topic === topic) wait.resolve(message);
  }

  /** A cloud → dock service (§1.3): answered echoing tid, bid and method; then its follow-up runs. */
  private answerService(request: Envelope): void {
    const answer = this.serve(request, this);
    const reply = {
      tid: request.tid,
      bid: request.bid,
      timestamp: Date.now(),
      gateway: this.sn,
      method: request.method,
      data: answer.data,
    };
    this.client.publish(`thing/product/${this.sn}/services_reply`, JSON.stringify(reply), { qos: 1 }, () => {
      // A lost reply is the cloud's to retry (§1.3); the connection's own failure is reported elsewhere.
    });
    // Published after the reply: MQTT.js sends in order, so the cloud has the answer before any event.
    answer.then?.();
  }
}

/** Progress lines, or one line redrawn in place on a terminal; failures always get their own line. */
class Progress {
  private onlineDocks = 0;
  private done = 0;
  private failed = 0;
  private readonly started = Date.now();

  constructor(
    private readonly docks: number,
    private readonly files: number,
    private readonly out: (line: string) => void,
    private readonly tty: boolean,
  ) {}

  step(sn: string, text: string): void {
    if (this.tty) this.redraw();
    else this.out(`${sn}: ${text}`);
  }

  online(sn: string, aircraft: string): void {
    this.onlineDocks += 1;
    this.step(sn, `online with aircraft ${aircraft}`);
  }

  fileDone(sn: string, name: string): void {
    this.done += 1;
    this.step(sn, `uploaded ${name}, acknowledged (${this.done}/${this.files} files)`);
  }

  fileFailed(sn: string, name: string, reason: string): void {
    this.failed += 1;
    this.line(`FAILED ${sn} ${name}: ${reason}.`);
  }

  /** A line worth reading even on a terminal (log exports, a dock going offline). */
  note(sn: string, text: string): void {
    this.line(`${sn}: ${text}`);
  }

  dockFailed(sn: string, reason: string, filesLost: number): void {
    this.failed += filesLost;
    this.line(`FAILED ${sn}: ${reason}.`);
  }

  finish(): void {
    if (this.tty) process.stdout.write(`\r\x1b[K${this.bar()}\n`);
    const seconds = (Date.now() - this.started) / 1000;
    if (this.files === 0)
      this.out(`${this.onlineDocks} of ${this.docks} docks online in ${seconds.toFixed(1)} s.`);
    else this.out(`${this.done} of ${this.files} files delivered in ${seconds.toFixed(1)} s.`);
  }

  private line(text: string): void {
    if (this.tty) process.stdout.write('\r\x1b[K');
    this.out(text);
    if (this.tty) this.redraw();
  }

  private redraw(): void {
    process.stdout.write(`\r\x1b[K${this.bar()}`);
  }

  private bar(): string {
    const width = 30;
    const filled = this.files === 0 ? width : Math.round(((this.done + this.failed) / this.files) * width);
    return `[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${this.done}/${this.files} files, ${this.onlineDocks}/${this.docks} docks online, ${this.failed} failed`;
  }
}
