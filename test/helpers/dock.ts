/**
 * A dock as the tests need it: an MQTT.js client logged in with MQTT credentials, that publishes DJI
 * envelopes on its own topics and waits for the reply with the same tid.
 */
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { UploadCredentials } from '../../src/storage/provider.ts';
import { sdkClient } from './storage.ts';
import type { TestApp } from './test-app.ts';

export interface DockReply {
  tid: string;
  bid: string;
  method?: string;
  data: { result: number; output?: Record<string, unknown> } & Record<string, unknown>;
}

export interface TestDock {
  sn: string;
  client: MqttClient;
  /** Publishes on `<family topic>`; resolves with the reply, or undefined after `timeoutMs`. */
  send(
    family: 'status' | 'requests' | 'events',
    method: string,
    data: unknown,
    options?: { needReply?: boolean; timeoutMs?: number; tid?: string; bid?: string; raw?: string | Buffer },
  ): Promise<DockReply | undefined>;
  close(): Promise<void>;
}

/** The MQTT login of the user behind `token` (what Pilot's thing module and docks use). */
export async function mqttAccountOf(
  t: { inject: TestApp['inject'] },
  token: string,
): Promise<{ username: string; password: string }> {
  const response = await t.inject({
    method: 'GET',
    url: '/manage/api/v1/users/current',
    headers: { 'x-auth-token': token },
  });
  const data = response.json().data as { mqtt_username: string; mqtt_password: string };
  return { username: data.mqtt_username, password: data.mqtt_password };
}

export const familyTopic = (sn: string, family: 'status' | 'requests' | 'events') =>
  family === 'status' ? `sys/product/${sn}/status` : `thing/product/${sn}/${family}`;

export async function connectDock(
  url: string,
  sn: string,
  credentials: { username: string; password: string },
  protocolVersion: 4 | 5 = 5,
): Promise<TestDock> {
  const client = await mqtt.connectAsync(
    url,
    { ...credentials, protocolVersion, clientId: `${sn}-${randomUUID().slice(0, 8)}`, reconnectPeriod: 0 },
    false,
  );
  const waiting = new Map<string, (reply: DockReply) => void>();
  client.on('message', (_topic, payload) => {
    const reply = JSON.parse(payload.toString()) as DockReply;
    waiting.get(reply.tid)?.(reply);
  });
  await client.subscribeAsync(
    (['status', 'requests', 'events'] as const).map((f) => `${familyTopic(sn, f)}_reply`),
    { qos: 1 },
  );
  return {
    sn,
    client,
    async send(family, method, data, options = {}) {
      const tid = options.tid ?? randomUUID();
      const reply = new Promise<DockReply | undefined>((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(tid);
          resolve(undefined);
        }, options.timeoutMs ?? 3000);
        waiting.set(tid, (r) => {
          clearTimeout(timer);
          waiting.delete(tid);
          resolve(r);
        });
      });
      const envelope = {
        tid,
        bid: options.bid ?? randomUUID(),
        timestamp: Date.now(),
        gateway: sn,
        method,
        ...(options.needReply === undefined ? {} : { need_reply: options.needReply ? 1 : 0 }),
        data,
      };
      await client.publishAsync(familyTopic(sn, family), options.raw ?? JSON.stringify(envelope), { qos: 1 });
      return reply;
    },
    async close() {
      await client.endAsync();
    },
  };
}

/** A cloud → dock `services` message as the dock receives it. */
export interface ServiceMessage {
  tid: string;
  bid: string;
  method: string;
  timestamp: number;
  data: Record<string, unknown>;
}

/** What a scripted dock answers per method: the reply's data, or undefined to stay silent. */
export type ServiceScript = Record<string, (message: ServiceMessage) => Record<string, unknown> | undefined>;

/**
 * Makes `dock` answer its `services` per `script` (methods it does not name get `{result: 0}`); returns
 * the list of what it receives, filled as messages come. The script may change between tests.
 */
export async function serveServices(dock: TestDock, script: ServiceScript): Promise<ServiceMessage[]> {
  const received: ServiceMessage[] = [];
  const topic = `thing/product/${dock.sn}/services`;
  dock.client.on('message', (t, payload) => {
    if (t !== topic) return;
    const message = JSON.parse(payload.toString()) as ServiceMessage;
    received.push(message);
    const answer = script[message.method];
    const data = answer ? answer(message) : { result: 0 };
    if (!data) return;
    const reply = { tid: message.tid, bid: message.bid, timestamp: Date.now(), method: message.method, data };
    void dock.client.publishAsync(`${topic}_reply`, JSON.stringify(reply), { qos: 1 });
  });
  await dock.client.subscribeAsync(topic, { qos: 1 });
  return received;
}

/**
 * A `fileupload_progress` from `dock` with the task's `bid`. One that asks for a reply resolves with it;
 * one that does not resolves once published: a later event that asks proves it was handled (one
 * gateway's messages are handled in order).
 */
export const sendProgress = (dock: TestDock, bid: string, data: unknown, needReply = false) =>
  dock.send('events', 'fileupload_progress', data, { bid, needReply, timeoutMs: needReply ? 10_000 : 1 });

/** A Dock 1 (3-1-0) coming online with one M30 aircraft, as its `update_topo` says it (§1.5). */
export const dockTopology = (aircraftSn: string) => ({
  domain: 3,
  type: 1,
  sub_type: 0,
  thing_version: '1.1.2',
  sub_devices: [{ sn: aircraftSn, domain: 0, type: 67, sub_type: 0, index: 'A' }],
});

/** What a dock's `storage_config_get` answers (its `output`), as the tests read it. */
export interface DockStorageConfig {
  [field: string]: unknown;
  bucket: string;
  endpoint: string;
  region: string;
  object_key_prefix: string;
  provider: string;
  credentials: Record<string, string>;
}

/** An S3 client with a `storage_config_get` answer's credentials, as a dock uploads with them. */
export function dockStorageClient(output: DockStorageConfig): S3Client {
  return sdkClient({
    accessKeyId: output.credentials.access_key_id!,
    accessKeySecret: output.credentials.access_key_secret!,
    securityToken: output.credentials.security_token!,
    endpoint: output.endpoint,
    bucket: output.bucket,
    region: output.region,
    provider: output.provider as UploadCredentials['provider'],
    prefix: output.object_key_prefix,
    expiresAt: 0,
  });
}

export type MqttAttempt =
  { client: MqttClient; refused?: undefined } | { client?: undefined; refused: number };

/**
 * Connects once (no reconnects); resolves with the client, or with the CONNACK reason of the refusal.
 * `onMessage` listens from the start: what a broker delivers right after the CONNACK is not missed.
 */
export function tryConnect(
  url: string,
  options: IClientOptions,
  onMessage?: (topic: string, payload: Buffer) => void,
): Promise<MqttAttempt> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...options });
  if (onMessage) client.on('message', onMessage);
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => {
      client.end(true);
      const code = (error as { code?: unknown }).code;
      resolve({ refused: typeof code === 'number' ? code : -1 });
    });
    client.once('close', () => {
      if (!client.connected) resolve({ refused: -1 });
    });
  });
}
