/**
 * Skyvault's side of DJI MQTT (docs/protocol.md §1): one MQTT.js client, whatever the broker. It
 * subscribes once with wildcards (so nothing is missed after a restart while devices stay connected),
 * parses every message with the one envelope parser, dispatches by family and method to one handler per
 * method (handlers/), and answers on `<topic>_reply` echoing tid, bid and method:
 * - `status` → `status_reply` always (with `method`, decision §10.45);
 * - `requests` → `requests_reply` always, `{result, output}` from the handler;
 * - `events` → `events_reply` `{result: 0}` only when `need_reply` is 1 and the handler finished.
 * A handler that throws an `AppError` of the catalogue (shared/app-error.ts) gets it rendered: a final
 * error is answered on the same reply topic with the entry's `result` (and its details as `output`); a
 * transient one, or any other failure, is logged and left unanswered, so the device sends it again.
 * A message that cannot be parsed is logged; nothing a message does stops the client. Each message is
 * counted by method and result (metrics/metrics.ts, skyvault_device_events_total).
 * Messages of one gateway are handled in order; different gateways' messages run concurrently, at most
 * MAX_RUNNING at once (a gateway never holds more than one of those). A QoS 1 message is acknowledged to
 * the broker (PUBACK) when it is queued, not when handled: MQTT.js reads no further packet until the
 * current one is acknowledged, so acknowledging after handling would process every device's messages one
 * at a time. When MAX_QUEUED messages wait, the acknowledgement waits too, and the broker holds the rest.
 * A message lost in a crash mid-handling got no reply, and DJI devices send an unanswered event or
 * request again.
 *
 * Server-initiated services go through `call()`: publish on `services`, wait for the `services_reply`
 * with the same tid and bid from the same gateway, retry with a new tid and the same bid (decision
 * §10.50). Every instance subscribes to `services_reply` (without `$share`) so a reply reaches the
 * instance waiting for it.
 */
import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { DeviceEventResult, Metrics } from '../metrics/metrics.ts';
import { AppError, isAppError, mqttResultOf } from '../shared/app-error.ts';
import type { Logger } from '../shared/logger.ts';
import { isRecord } from '../dji/values.ts';
import { type Envelope, parseEnvelope } from './envelope.ts';
import {
  DEVICE_INITIATED_FILTERS,
  type InboundFamily,
  parseTopic,
  SERVICES_REPLY_FILTER,
  topics,
} from './topics.ts';

/** What a handler gets: the parsed message and the gateway it came from (the topic's SN). */
export interface InboundMessage {
  family: InboundFamily;
  /** SN in the topic: the gateway for status/requests/events. */
  sn: string;
  envelope: Envelope;
}

export interface ReplyData {
  result: number;
  output?: Record<string, unknown>;
  [key: string]: unknown;
}

/** One handler per method (handlers/<method>.ts). `requests` and `status` handlers return the reply data. */
export interface MethodHandler {
  /** `state` messages carry no method: their handler registers with method ''. */
  family: 'status' | 'requests' | 'events' | 'state';
  method: string;
  handle(message: InboundMessage): Promise<ReplyData | undefined>;
}

export interface MqttGatewayOptions {
  url: string;
  username: string;
  password: string;
  /** Stable across restarts so a persistent session keeps QoS 1 messages while Skyvault is down. */
  clientId: string;
  /** `$share/<group>/…` for device-initiated topics (external brokers); undefined = plain subscriptions. */
  sharedGroup?: string | undefined;
  logger: Logger;
  /** Services: wait per attempt (ms) and resends after the first (docs/protocol.md §1.3: 3000 and 2). */
  serviceTimeoutMs?: number;
  serviceRetries?: number;
  /** Counts each device message handled (skyvault_device_events_total). */
  metrics?: Pick<Metrics, 'deviceEvents'> | undefined;
}

/** What handling a message came to: its metric's result, and the reply data (if any is to be sent). */
interface Handled {
  result: DeviceEventResult;
  reply: ReplyData | undefined;
}

/** The method label of a message no handler takes: DJI method names are the devices' to choose. */
const OTHER_METHOD = 'other';

export interface ServiceReply {
  tid: string;
  bid: string;
  data: Record<string, unknown>;
  result: number;
}

interface PendingCall {
  /** What a reply must echo to be this call's: the bid, on the called gateway's topic. */
  bid: string;
  gatewaySn: string;
  resolve(reply: ServiceReply): void;
}

const MAX_RECONNECT_MS = 30_000;
/** Messages handled at once (across gateways; one gateway's messages are handled in order). */
const MAX_RUNNING = 64;
/** Messages queued (waiting or running) before the broker is made to hold further ones. */
const MAX_QUEUED = 4096;
/** How long a stop waits for the broker to take the last publishes before dropping the connection. */
const CLOSE_TIMEOUT_MS = 3000;

export class MqttGateway {
  private client: MqttClient | undefined;
  private readonly handlers = new Map<string, MethodHandler>();
  private readonly pending = new Map<string, PendingCall>();
  private reconnectMs = 1000;
  private queued = 0;
  private running = 0;
  private readonly queueWaiters: (() => void)[] = [];
  private readonly slotWaiters: (() => void)[] = [];
  private closing = false;
  /** The last queued handling per gateway SN: the next one of that SN runs after it. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly options: MqttGatewayOptions) {}

  /**
   * Adds method handlers (before start). Registered after construction because handlers use services
   * that themselves call devices through this gateway: the arrows stay one-way.
   */
  register(handlers: MethodHandler[]): void {
    for (const handler of handlers) {
      const key = `${handler.family}/${handler.method}`;
      if (this.handlers.has(key)) throw new Error(`two MQTT handlers for ${key}`);
      this.handlers.set(key, handler);
    }
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Device messages held: waiting for their turn (their gateway's earlier ones, a slot) or handled. */
  get queueDepth(): number {
    return this.queued;
  }

  /** Connects (to `url`, or the configured one) and subscribes; rejects when either fails. */
  async start(url = this.options.url): Promise<void> {
    const { logger } = this.options;
    const clientOptions: IClientOptions = {
      clientId: this.options.clientId,
      username: this.options.username,
      password: this.options.password,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      keepalive: 30,
      reconnectPeriod: this.reconnectMs,
      connectTimeout: 10_000,
      resubscribe: true,
      customHandleAcks: (topic, payload, _packet, done) => {
        void this.accept(topic, payload).then(() => done(0));
      },
    };
    const client = await mqtt.connectAsync(url, clientOptions, false);
    this.client = client;
    client.on('connect', () => {
      this.reconnectMs = 1000;
      client.options.reconnectPeriod = this.reconnectMs;
      logger.info('MQTT connection restored');
    });
    client.on('offline', () => logger.warn('MQTT broker unreachable; reconnecting'));
    client.on('reconnect', () => {
      // Back off: 1 s, 2 s, 4 s … 30 s between attempts while the broker is away.
      this.reconnectMs = Math.min(this.reconnectMs * 2, MAX_RECONNECT_MS);
      client.options.reconnectPeriod = this.reconnectMs;
    });
    client.on('error', (error) => logger.warn({ err: error.message }, 'MQTT client error'));
    // QoS 1 and 2 messages come through customHandleAcks; QoS 0 ones (devices may send events, replies
    // and osd at QoS 0) only as 'message' events, and MQTT.js emits those for QoS 1 too once acked.
    client.on('message', (topic, payload, packet) => {
      if (packet.qos === 0) void this.accept(topic, payload);
    });
    const share = (filter: string) =>
      this.options.sharedGroup ? `$share/${this.options.sharedGroup}/${filter}` : filter;
    const filters = [...DEVICE_INITIATED_FILTERS.map(share), SERVICES_REPLY_FILTER];
    const granted = await client.subscribeAsync(filters, { qos: 1 });
    const refused = granted.filter((g) => g.qos === 128);
    if (refused.length > 0) {
      throw new Error(`the MQTT broker refused the subscriptions ${refused.map((g) => g.topic).join(', ')}`);
    }
  }

  async close(): Promise<void> {
    // Take no new message (unacknowledged, the broker keeps it), and let those taken finish and reply.
    this.closing = true;
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
    const client = this.client;
    this.client = undefined;
    for (const [tid, call] of this.pending) {
      this.pending.delete(tid);
      call.resolve({ tid, bid: '', data: {}, result: -1 });
    }
    // A clean stop ends the broker session too (session expiry 0): an external broker would otherwise keep
    // queueing this instance's share of device messages for a session nobody resumes. After a crash the
    // session stays (3600 s) and a restart with the same client id picks its messages up.
    if (!client) return;
    const ended = client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
    // With the broker gone, MQTT.js would wait forever for the acknowledgement of a last publish.
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS).unref(),
    );
    if ((await Promise.race([ended, timeout])) === 'timeout') await client.endAsync(true);
  }

  /**
   * Calls a service on a gateway and resolves with its reply. Rejects with `DeviceNoReply` when no reply
   * came after the retries.
   */
  async call(
    gatewaySn: string,
    method: string,
    data: Record<string, unknown> = {},
    bid: string = randomUUID(),
  ): Promise<ServiceReply> {
    const attempts = 1 + (this.options.serviceRetries ?? 2);
    const timeoutMs = this.options.serviceTimeoutMs ?? 3000;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const tid = randomUUID();
      const reply = new Promise<ServiceReply | undefined>((resolve) => {
        const timer = setTimeout(() => {
          this.pending.delete(tid);
          resolve(undefined);
        }, timeoutMs);
        this.pending.set(tid, {
          bid,
          gatewaySn,
          resolve: (r) => {
            clearTimeout(timer);
            this.pending.delete(tid);
            resolve(r);
          },
        });
      });
      await this.publish(topics.services(gatewaySn), { tid, bid, timestamp: Date.now(), method, data });
      const answer = await reply;
      if (answer) return answer;
      this.options.logger.warn({ gatewaySn, method, attempt }, 'no reply to MQTT service call');
    }
    throw new AppError('DeviceNoReply', `${gatewaySn} did not answer ${method} (${attempts} attempts).`);
  }

  /**
   * Takes a message into the work set (waiting for room) and schedules it after the same gateway's
   * earlier messages. Replies to Skyvault's own calls skip the queue: a handler may be waiting for one.
   */
  private async accept(topic: string, payload: Buffer): Promise<void> {
    const parsed = parseTopic(topic);
    if (!parsed) return;
    if (parsed.family === 'services_reply') {
      this.receive(topic, payload).catch((error: unknown) => this.handlingFailed(topic, error));
      return;
    }
    // Stopping: never acknowledged, so the broker delivers it again (to this session later, or another).
    if (this.closing) return new Promise<void>(() => {});
    while (this.queued >= MAX_QUEUED) await new Promise<void>((resolve) => this.queueWaiters.push(resolve));
    this.queued += 1;
    const previous = this.chains.get(parsed.sn) ?? Promise.resolve();
    const run: Promise<void> = previous
      .then(() => this.runInSlot(() => this.receive(topic, payload)))
      .catch((error: unknown) => this.handlingFailed(topic, error))
      .finally(() => {
        this.queued -= 1;
        this.queueWaiters.shift()?.();
        if (this.chains.get(parsed.sn) === run) this.chains.delete(parsed.sn);
      });
    this.chains.set(parsed.sn, run);
  }

  /** Runs `task` once one of the MAX_RUNNING slots is free. */
  private async runInSlot(task: () => Promise<void>): Promise<void> {
    while (this.running >= MAX_RUNNING) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    this.running += 1;
    try {
      await task();
    } finally {
      this.running -= 1;
      this.slotWaiters.shift()?.();
    }
  }

  /** Left unanswered: the device sends the message again. */
  private handlingFailed(topic: string, error: unknown): void {
    if (isAppError(error) && error.transient) {
      this.options.logger.warn(
        { topic, reason: error.message },
        'MQTT message not answered; the device will resend',
      );
    } else {
      this.options.logger.error({ err: error, topic }, 'MQTT message handling failed');
    }
  }

  private async receive(topic: string, payload: Buffer): Promise<void> {
    const { logger } = this.options;
    const parsed = parseTopic(topic);
    if (!parsed) return;
    const result = parseEnvelope(payload, parsed.family !== 'osd' && parsed.family !== 'state');
    if (!result.ok) {
      logger.warn({ topic, bytes: payload.length }, `MQTT message ignored: ${result.reason}`);
      if (parsed.family !== 'services_reply') this.count(OTHER_METHOD, 'invalid');
      return;
    }
    const envelope = result.envelope;
    if (parsed.family === 'services_reply') {
      // Matched by tid and bid (decision §10.50 keeps the bid across retries), from the gateway called.
      const call = this.pending.get(envelope.tid);
      if (!call) return;
      if (call.bid !== envelope.bid || call.gatewaySn !== parsed.sn) {
        logger.warn(
          { topic, tid: envelope.tid },
          'services_reply ignored: its bid or gateway is not the call’s',
        );
        return;
      }
      const data = envelope.data;
      call.resolve({ tid: envelope.tid, bid: envelope.bid, data, result: replyResult(data) });
      return;
    }
    // Every request and status is answered (§1.3): a device left without an answer retries forever.
    // Events are answered when they ask to be; state and osd never.
    const answered =
      parsed.family === 'requests' ||
      parsed.family === 'status' ||
      (parsed.family === 'events' && envelope.needReply);
    const handler = this.handlers.get(`${parsed.family}/${envelope.method}`);
    // `state` messages carry no method: their handler's family names them.
    const method = handler ? handler.method || handler.family : OTHER_METHOD;
    let handled: Handled;
    try {
      handled = handler
        ? await this.handle(handler, { family: parsed.family, sn: parsed.sn, envelope }, topic)
        : this.unhandled(topic, parsed.family, envelope);
    } catch (error) {
      this.count(method, 'error');
      throw error;
    }
    this.count(method, handled.result);
    if (answered && handled.reply) await this.reply(topic, envelope, handled.reply);
  }

  /** Runs the handler; a final AppError is a refusal answered with its result, anything else throws. */
  private async handle(handler: MethodHandler, message: InboundMessage, topic: string): Promise<Handled> {
    let data: ReplyData | undefined;
    try {
      data = await handler.handle(message);
    } catch (error) {
      if (!isAppError(error) || error.transient) throw error;
      this.options.logger.info(
        { topic, method: message.envelope.method, result: error.mqttResult, reason: error.message },
        'MQTT message refused',
      );
      const output = isRecord(error.details) ? error.details : {};
      return { result: 'refused', reply: { result: error.mqttResult, output } };
    }
    if (message.family === 'events') return { result: 'ok', reply: { result: 0 } };
    return { result: data && data.result !== 0 ? 'refused' : 'ok', reply: data };
  }

  /** A method nobody handles: a request is "not supported", anything else that asks is acknowledged. */
  private unhandled(topic: string, family: InboundFamily, envelope: Envelope): Handled {
    if (family !== 'state')
      this.options.logger.info({ topic, method: envelope.method }, 'MQTT message without a handler');
    const reply =
      family === 'requests' ? { result: mqttResultOf('MethodNotSupported'), output: {} } : { result: 0 };
    return { result: 'unhandled', reply };
  }

  private count(method: string, result: DeviceEventResult): void {
    this.options.metrics?.deviceEvents.inc({ method, result });
  }

  private reply(topic: string, request: Envelope, data: ReplyData): Promise<void> {
    return this.publish(`${topic}_reply`, {
      tid: request.tid,
      bid: request.bid,
      timestamp: Date.now(),
      method: request.method,
      data,
    });
  }

  /**
   * Queues a QoS 1 publish without waiting for the broker's PUBACK: MQTT.js reads no further packet
   * (that PUBACK included) until the message being handled is acknowledged, so waiting here from a
   * handler would deadlock. MQTT.js resends unacknowledged publishes after a reconnect.
   */
  private async publish(topic: string, message: Record<string, unknown>): Promise<void> {
    const client = this.client;
    if (!client?.connected) throw new AppError('MqttUnavailable');
    client.publish(topic, JSON.stringify(message), { qos: 1 }, (error) => {
      if (error) this.options.logger.warn({ topic, err: error.message }, 'MQTT publish failed');
    });
  }
}

/** `data.result` of a services_reply; a missing result counts as 0 (decision §10.38). */
function replyResult(data: Record<string, unknown>): number {
  const value = isRecord(data) ? data.result : undefined;
  return typeof value === 'number' ? value : Number(value ?? 0) || 0;
}
