/**
 * The floor of a dock event, for bench/dock-events.ts: a trivial responder that answers every message on
 * `thing/product/<sn>/events` asking for a reply (`need_reply` 1) at once with what Skyvault publishes
 * back (src/mqtt/mqtt-gateway.ts): `{tid, bid, timestamp, method, data: {result: 0}}` on
 * `thing/product/<sn>/events_reply`, QoS 1. It parses the JSON and nothing else: no login, no ACL, no
 * database, no storage. Only SNs starting with `<sn-prefix>` are answered, so that on a broker others use
 * too it never answers their docks.
 *
 * `mqtt-responder-server.ts <sn-prefix>`: an aedes 2 broker (the version Skyvault embeds, with its
 * defaults: in-memory persistence, no authentication) on a loopback port, the responder in the same
 * process through aedes' in-process subscribe and publish; prints {"port": N} once listening.
 * `mqtt-responder-server.ts <sn-prefix> <broker-url>`: the responder as an MQTT 5 client of that broker
 * (client id `<sn-prefix>-responder`, clean session), subscribed to `thing/product/+/events` at QoS 1;
 * prints {"ready": true} once subscribed. Serves until killed, then unsubscribes and disconnects.
 */
import { createServer } from 'node:net';
import { Aedes, type PublishPacket } from 'aedes';
import mqtt from 'mqtt';

const [prefix, brokerUrl] = process.argv.slice(2);
if (!prefix) throw new Error('usage: mqtt-responder-server.ts <sn-prefix> [<broker-url>]');
const FILTER = 'thing/product/+/events';
const TOPIC_HEAD = 'thing/product/';

/** The events_reply for one event, or undefined when it is not this run's or asks for none. */
function replyTo(topic: string, payload: Buffer): { topic: string; body: Buffer } | undefined {
  if (!topic.startsWith(prefix!, TOPIC_HEAD.length)) return undefined;
  let event: { tid?: unknown; bid?: unknown; method?: unknown; need_reply?: unknown };
  try {
    event = JSON.parse(payload.toString('utf8')) as typeof event;
  } catch {
    return undefined;
  }
  if (typeof event.tid !== 'string' || Number(event.need_reply) !== 1) return undefined;
  const body = JSON.stringify({
    tid: event.tid,
    bid: typeof event.bid === 'string' ? event.bid : '',
    timestamp: Date.now(),
    method: typeof event.method === 'string' ? event.method : '',
    data: { result: 0 },
  });
  return { topic: `${topic}_reply`, body: Buffer.from(body) };
}

let stop: () => Promise<void>;
if (brokerUrl) {
  const client = await mqtt.connectAsync(
    brokerUrl,
    { clientId: `${prefix}-responder`, protocolVersion: 5, clean: true, reconnectPeriod: 0 },
    false,
  );
  client.on('message', (topic, payload) => {
    const reply = replyTo(topic, payload);
    if (reply) client.publish(reply.topic, reply.body, { qos: 1 });
  });
  const granted = await client.subscribeAsync(FILTER, { qos: 1 });
  if (granted.some((g) => g.qos >= 128)) throw new Error(`the broker refused ${FILTER}`);
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  stop = async () => {
    await client.unsubscribeAsync(FILTER).catch(() => undefined);
    await client.endAsync();
  };
} else {
  const broker = await Aedes.createBroker();
  await new Promise<void>((resolve) =>
    broker.subscribe(
      FILTER,
      (packet, done) => {
        // Answered on the next tick, not inside the delivery: aedes' emitter drains its queue
        // recursively when deliveries finish synchronously (a stack overflow with 1,000 docks).
        process.nextTick(() => {
          const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
          const reply = replyTo(packet.topic, payload);
          if (reply) {
            const out = {
              cmd: 'publish',
              topic: reply.topic,
              payload: reply.body,
              qos: 1,
              retain: false,
              dup: false,
            } as PublishPacket;
            broker.publish(out, () => undefined);
          }
          done();
        });
      },
      () => resolve(),
    ),
  );
  const server = createServer((socket) => broker.handle(socket));
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  });
  stop = () => new Promise<void>((resolve) => broker.close(() => server.close(() => resolve())));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void stop().finally(() => process.exit(0));
  });
}
