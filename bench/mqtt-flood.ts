/**
 * Shared by the MQTT benchmarks (dock-events, log-progress): simulated docks and plain publishers over
 * MQTT 5 from this process, a windowed QoS 1 flood whose completions are counted by tid, the same flood
 * one way through a broker (`baselineFlood`) or answered by a trivial responder (`replyFlood`) as
 * baselines, and the bookkeeping that tells an expected close from a dropped connection. A module, not a
 * benchmark: it runs nothing when imported.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { processUsage } from './helpers.ts';

/** Connections opened (and closed) at once, and the wait for a setup reply. */
export const CONNECT_BATCH = 50;
export const SETUP_TIMEOUT_MS = 30_000;

/** One message of a flood, serialized once and published as is to both brokers. */
export interface FloodMessage {
  tid: string;
  topic: string;
  body: string;
}

/** A reply or event as far as the benchmarks read it. */
export interface Reply {
  tid: string;
  bid?: string;
  method?: string;
  data?: { result?: unknown; output?: unknown };
}

export interface FloodResult {
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
  events: FloodMessage[];
  next: number;
  outstanding: number;
}

/**
 * Publishes every sender's events at QoS 1, each sender keeping at most `window` not done; `done(tid)` is
 * called by whoever sees the completion (the dock's events_reply, the baseline's subscriber).
 */
export class Flood {
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
    senders: { client: MqttClient; events: FloodMessage[] }[],
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

/** Every client connect() opened and no closeAll() closed yet. */
const open = new Set<MqttClient>();
const closing = new WeakSet<MqttClient>();
/** Connections that closed without closeAll (the broker or Skyvault dropped them), and client errors. */
let unexpectedCloses = 0;
const clientErrors: string[] = [];

/**
 * Marks the connection trouble seen so far; `since()` says, one sentence each under `label`, what went
 * wrong after the mark (connections closed unexpectedly, the first five client errors).
 */
export function troubleMark(label: string): { since(): string[] } {
  const closes = unexpectedCloses;
  const errors = clientErrors.length;
  return {
    since: () => [
      ...(unexpectedCloses > closes
        ? [`${label}: ${unexpectedCloses - closes} connections closed unexpectedly`]
        : []),
      ...clientErrors.slice(errors, errors + 5).map((error) => `${label}: MQTT client error ${error}`),
    ],
  };
}

/** The clients still open (to close them all at the end, whatever failed). */
export function openClients(): MqttClient[] {
  return [...open];
}

export async function connect(
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
export async function connectAll(
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

export async function closeAll(clients: MqttClient[], force = false): Promise<void> {
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

/**
 * A dock's requests that wait for a reply with the same tid (update_topo, storage_config_get…): feed
 * every reply to `answer`, which settles the request waiting for it.
 */
export class Requests {
  private readonly waits = new Map<string, (reply: Reply) => void>();

  /** Settles the request with this reply's tid; whether one was waiting. */
  answer(reply: Reply): boolean {
    const wait = this.waits.get(reply.tid);
    wait?.(reply);
    return wait !== undefined;
  }

  send(client: MqttClient, topic: string, method: string, data: unknown): Promise<Reply> {
    const tid = randomUUID();
    const reply = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waits.delete(tid);
        reject(new Error(`no reply to ${method} on ${topic} within ${SETUP_TIMEOUT_MS / 1000} s`));
      }, SETUP_TIMEOUT_MS);
      this.waits.set(tid, (r) => {
        clearTimeout(timer);
        this.waits.delete(tid);
        resolve(r);
      });
    });
    const envelope = { tid, bid: randomUUID(), timestamp: Date.now(), method, data };
    client.publish(topic, JSON.stringify(envelope), { qos: 1 });
    return reply;
  }
}

/**
 * D docks online on Skyvault: each connects with `account` (client id = its SN), subscribes its reply
 * topics (and `extraTopics`), and reports `update_topo` with one aircraft (`aircraftSnOf`), which binds it
 * to the account's workspace. Every message a dock receives goes to `onMessage`.
 */
export async function onlineDocks(options: {
  url: string;
  account: { username: string; password: string };
  count: number;
  snOf: (i: number) => string;
  aircraftSnOf: (i: number) => string;
  requests: Requests;
  onMessage: (topic: string, payload: Buffer, client: MqttClient) => void;
  extraTopics?: (sn: string) => string[];
}): Promise<MqttClient[]> {
  const { requests } = options;
  return connectAll(options.count, async (i) => {
    const sn = options.snOf(i);
    const client = await connect(options.url, sn, options.account);
    client.on('message', (topic, payload) => options.onMessage(topic, payload, client));
    const granted = await client.subscribeAsync(
      [
        `sys/product/${sn}/status_reply`,
        `thing/product/${sn}/requests_reply`,
        `thing/product/${sn}/events_reply`,
        ...(options.extraTopics?.(sn) ?? []),
      ],
      { qos: 1 },
    );
    if (granted.some((g) => g.qos >= 128)) throw new Error(`Skyvault refused the subscriptions of ${sn}`);
    const topo = await requests.send(client, `sys/product/${sn}/status`, 'update_topo', {
      domain: 3,
      type: 1,
      sub_type: 0,
      thing_version: '1.1.2',
      sub_devices: [
        {
          sn: options.aircraftSnOf(i),
          domain: 0,
          type: 67,
          sub_type: 0,
          index: 'A',
          thing_version: '1.1.2',
        },
      ],
    });
    if (Number(topo.data?.result) !== 0) throw new Error(`update_topo of ${sn}: result ${topo.data?.result}`);
    return client;
  });
}

/**
 * The one-way baseline: D publishers (client ids `snOf(i)`) on a broker publish `events[i]` (same topics
 * and bytes, QoS 1) to one subscriber of `thing/product/+/events`; a message is done when it arrives.
 * Best of `runs` (a run is short and the first a cold start); also the broker's CPU seconds during the
 * kept run (`brokerCpu`, or /proc of `brokerPid`). On a broker others use too, `accepts` says which
 * topics are this run's (the others' messages are ignored, not counted as unknown). `preferLossless`: see
 * bestOf. Closes its connections.
 */
export async function baselineFlood(options: {
  brokerUrl: string;
  brokerPid?: number;
  brokerCpu?: () => number;
  subscriberId: string;
  snOf: (i: number) => string;
  events: FloodMessage[][];
  window: number;
  idleTimeoutMs: number;
  runs: number;
  accepts?: (topic: string) => boolean;
  preferLossless?: boolean;
}): Promise<{ result: FloodResult; cpuSeconds: number }> {
  const { brokerUrl, brokerPid, events, accepts } = options;
  const brokerCpu =
    options.brokerCpu ?? (brokerPid !== undefined ? () => processUsage(brokerPid).cpuSeconds : () => 0);
  let flood: Flood | undefined;
  const subscriber = await connect(brokerUrl, options.subscriberId);
  subscriber.on('message', (topic, payload) => {
    if (accepts && !accepts(topic)) return;
    flood?.done(parseReply(payload).tid, true);
  });
  await subscriber.subscribeAsync('thing/product/+/events', { qos: 1 });
  const publishers = await connectAll(events.length, (i) => connect(brokerUrl, options.snOf(i)));
  try {
    const { result, cpu } = await bestOf(
      options.runs,
      { broker: brokerCpu },
      () => {
        flood = new Flood(
          publishers.map((client, i) => ({ client, events: events[i]! })),
          options.window,
          options.idleTimeoutMs,
        );
        return flood.run();
      },
      options.preferLossless,
    );
    return { result, cpuSeconds: cpu.broker! };
  } finally {
    flood = undefined;
    await subscriber.unsubscribeAsync('thing/product/+/events').catch(() => undefined);
    await closeAll([subscriber, ...publishers]);
  }
}

/**
 * The request-and-reply baseline: D plain clients (client ids `snOf(i)`, no login) on a broker where a
 * responder answers `thing/product/+/events` (bench/mqtt-responder-server.ts), each subscribed to its
 * `thing/product/<sn>/events_reply`, publish `events[i]` (QoS 1, whose topics must be their own events
 * topics); a message is done when the reply with its tid arrives, as with Skyvault's docks. Best of
 * `runs`; also what each of `meters` (CPU seconds so far of a process) used during the kept run. Closes
 * its connections.
 */
export async function replyFlood(options: {
  brokerUrl: string;
  snOf: (i: number) => string;
  events: FloodMessage[][];
  window: number;
  idleTimeoutMs: number;
  runs: number;
  meters: Record<string, () => number>;
}): Promise<{ result: FloodResult; cpu: Record<string, number> }> {
  const { brokerUrl, events } = options;
  let flood: Flood | undefined;
  const docks = await connectAll(events.length, async (i) => {
    const sn = options.snOf(i);
    const client = await connect(brokerUrl, sn);
    client.on('message', (_topic, payload) => {
      const reply = parseReply(payload);
      flood?.done(reply.tid, Number(reply.data?.result) === 0);
    });
    await client.subscribeAsync(`thing/product/${sn}/events_reply`, { qos: 1 });
    return client;
  });
  try {
    return await bestOf(options.runs, options.meters, () => {
      flood = new Flood(
        docks.map((client, i) => ({ client, events: events[i]! })),
        options.window,
        options.idleTimeoutMs,
      );
      return flood.run();
    });
  } finally {
    flood = undefined;
    await closeAll(docks);
  }
}

/**
 * The best of `runs` runs of `once`, with what each of `meters` (a reading of CPU seconds so far) used
 * during it. Best: the first run that lost anything (and no further run), or the fastest of those that
 * lost nothing; with `preferLossless`, the fastest run that lost nothing, trying every run, else the
 * fastest of the lossy ones (for a baseline that is information only, whose broker may drop messages).
 */
export async function bestOf(
  runs: number,
  meters: Record<string, () => number>,
  once: () => Promise<FloodResult>,
  preferLossless = false,
): Promise<{ result: FloodResult; cpu: Record<string, number> }> {
  let best: FloodResult | undefined;
  let bestCpu: Record<string, number> = {};
  const better = (result: FloodResult, than: FloodResult) => {
    if (!preferLossless) return result.lost > 0 || (than.lost === 0 && result.rate > than.rate);
    if ((result.lost === 0) !== (than.lost === 0)) return result.lost === 0;
    return result.rate > than.rate;
  };
  for (let run = 0; run < runs; run++) {
    const before = Object.fromEntries(Object.entries(meters).map(([name, read]) => [name, read()]));
    const result = await once();
    if (!best || better(result, best)) {
      best = result;
      bestCpu = Object.fromEntries(
        Object.entries(meters).map(([name, read]) => [name, read() - before[name]!]),
      );
    }
    if (result.lost > 0 && !preferLossless) break;
  }
  if (!best) throw new Error('BENCH_BASELINE_RUNS must be at least 1');
  return { result: best, cpu: bestCpu };
}

/** What a flood got wrong, one sentence each (`label` says which run). */
export function floodProblems(label: string, r: FloodResult): string[] {
  const problems: string[] = [];
  if (r.lost > 0) problems.push(`${label}: ${r.lost} of ${r.sent} sent got no reply`);
  if (r.unsent > 0) problems.push(`${label}: ${r.unsent} never sent (windows stalled)`);
  if (r.refused > 0) problems.push(`${label}: ${r.refused} replies with a non-zero result`);
  if (r.duplicates > 0) problems.push(`${label}: ${r.duplicates} duplicate or unknown replies`);
  if (r.publishErrors > 0) problems.push(`${label}: ${r.publishErrors} publishes failed`);
  return problems;
}

/** CPU time of the whole machine so far (all cores), busy and total, in seconds, from /proc/stat. */
export function machineCpu(): { busySeconds: number; totalSeconds: number } {
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3]! + fields[4]!; // idle + iowait
  return { busySeconds: (total - idle) / 100, totalSeconds: total / 100 };
}

/**
 * CPU seconds used so far by every process of this machine whose command name is `comm` (e.g. the
 * `postgres` server's processes: its backends, which do a database's share of the work), from /proc.
 * Processes that exited are no longer counted: compare two readings over a span when they stay alive.
 */
export function cpuSecondsOfCommand(comm: string): number {
  let total = 0;
  for (const seconds of cpuSecondsByProcess(comm).values()) total += seconds;
  return total;
}

/**
 * CPU seconds used so far by each process of this machine whose command name is `comm` and, when given,
 * whose command line (a PostgreSQL backend's shows its database's name) contains `cmdlineIncludes`.
 */
export function cpuSecondsByProcess(comm: string, cmdlineIncludes?: string): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      if (stat.slice(open + 1, close) !== comm) continue;
      if (cmdlineIncludes !== undefined) {
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
        if (!cmdline.includes(cmdlineIncludes)) continue;
      }
      const fields = stat.slice(close + 2).split(' ');
      seconds.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // Exited meanwhile.
    }
  }
  return seconds;
}

/**
 * A reading of CPU seconds for processes that come and go (cpuSecondsByProcess's): what they used since
 * the meter's first reading, each process counted from the reading that first saw it (from 0 when it
 * started in between), so a process that exits lowers nothing (its last share between readings is
 * missed). Read it once before what it measures.
 */
export function processCpuMeter(comm: string, cmdlineIncludes?: string): () => number {
  let last: Map<number, number> | undefined;
  let total = 0;
  return () => {
    const now = cpuSecondsByProcess(comm, cmdlineIncludes);
    if (last) for (const [pid, seconds] of now) total += seconds - (last.get(pid) ?? 0);
    last = now;
    return total;
  };
}

/** Resident memory now (VmRSS) of a process, in MB, from /proc. */
export function currentRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** Samples a process's VmRSS every `everyMs` until stopped; `stop()` returns the highest seen, in MB. */
export function sampleRss(pid: number, everyMs = 50): { stop(): number } {
  let peak = currentRssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, currentRssMb(pid));
    } catch {
      // The process exited: keep what was seen.
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        peak = Math.max(peak, currentRssMb(pid));
      } catch {
        // As above.
      }
      return peak;
    },
  };
}

/** "nothing at warn or above", or each distinct message with its level and count. */
export function summarizeLog(lines: string[]): string {
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
export function parseReply(payload: Buffer): Reply {
  try {
    return JSON.parse(payload.toString()) as Reply;
  } catch {
    return { tid: '' };
  }
}

/** A comma-separated list of positive integers from the environment, or `fallback`; fails on anything else. */
export function positiveInts(name: string, fallback: string): number[] {
  const raw = process.env[name] ?? fallback;
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1))
    throw new Error(`${name} must be a positive integer or a comma-separated list of them, not "${raw}"`);
  return values;
}
