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
 *
 * BENCH_RESPONDER_RECORDS makes it the floor of *recording* an event: each event is first inserted as one
 * row (its tid as primary key, the SN, the method, the payload, the time) into `bench_events`, and
 * answered once that row is committed, as Skyvault answers once the file is recorded. `sqlite:<file>`: a
 * SQLite database with Skyvault's settings (WAL, synchronous NORMAL), in this process; a
 * `postgres://…` URL: a pool of 10 connections to that database, committing as Skyvault's device-facing
 * writes do (synchronous_commit as the server has it).
 */
import { createServer } from 'node:net';
import { Aedes, type PublishPacket } from 'aedes';
import BetterSqlite3 from 'better-sqlite3';
import mqtt from 'mqtt';
import pg from 'pg';

const [prefix, brokerUrl] = process.argv.slice(2);
if (!prefix) throw new Error('usage: mqtt-responder-server.ts <sn-prefix> [<broker-url>]');
const FILTER = 'thing/product/+/events';
const TOPIC_HEAD = 'thing/product/';

interface Answer {
  topic: string;
  body: Buffer;
  /** What is recorded of the event before it is answered (BENCH_RESPONDER_RECORDS). */
  row: [tid: string, sn: string, method: string, payload: string, receivedAt: number];
}

// Keyed by tid and time: the best of several runs publishes the same events again.
const TABLE = `create table if not exists bench_events (tid varchar(64) not null, sn varchar(64) not null,
  method varchar(64) not null, payload text not null, received_at bigint not null, primary key (tid, received_at))`;
const INSERT = 'insert into bench_events values ($1, $2, $3, $4, $5) on conflict do nothing';

/** Records one event's row, resolving once it is committed; undefined: records nothing. */
async function recorder(
  target: string | undefined,
): Promise<((row: Answer['row']) => Promise<void>) | undefined> {
  if (!target) return undefined;
  if (target.startsWith('sqlite:')) {
    const db = new BetterSqlite3(target.slice('sqlite:'.length));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(TABLE);
    const insert = db.prepare(INSERT.replace(/\$\d/g, '?'));
    return async (row) => {
      insert.run(...row);
    };
  }
  const pool = new pg.Pool({ connectionString: target, max: 10 });
  await pool.query(TABLE);
  return async (row) => {
    await pool.query({
      name: 'bench_event',
      text: INSERT,
      values: row,
    });
  };
}
const record = await recorder(process.env.BENCH_RESPONDER_RECORDS || undefined);

/** Answers `reply` once the event is recorded (at once when nothing is). */
function answer(reply: Answer, publish: (topic: string, body: Buffer) => void): void {
  if (!record) {
    publish(reply.topic, reply.body);
    return;
  }
  record(reply.row).then(
    () => publish(reply.topic, reply.body),
    (error: unknown) => process.stderr.write(`recording an event failed: ${String(error)}\n`),
  );
}

/** The events_reply for one event, or undefined when it is not this run's or asks for none. */
function replyTo(topic: string, payload: Buffer): Answer | undefined {
  if (!topic.startsWith(prefix!, TOPIC_HEAD.length)) return undefined;
  let event: { tid?: unknown; bid?: unknown; method?: unknown; need_reply?: unknown };
  try {
    event = JSON.parse(payload.toString('utf8')) as typeof event;
  } catch {
    return undefined;
  }
  if (typeof event.tid !== 'string' || Number(event.need_reply) !== 1) return undefined;
  const method = typeof event.method === 'string' ? event.method : '';
  const now = Date.now();
  const body = JSON.stringify({
    tid: event.tid,
    bid: typeof event.bid === 'string' ? event.bid : '',
    timestamp: now,
    method,
    data: { result: 0 },
  });
  const sn = topic.slice(TOPIC_HEAD.length, topic.indexOf('/', TOPIC_HEAD.length));
  return {
    topic: `${topic}_reply`,
    body: Buffer.from(body),
    row: [event.tid, sn, method, payload.toString('utf8'), now],
  };
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
    if (reply) answer(reply, (to, body) => client.publish(to, body, { qos: 1 }));
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
          if (reply)
            answer(reply, (to, body) => {
              const out = {
                cmd: 'publish',
                topic: to,
                payload: body,
                qos: 1,
                retain: false,
                dup: false,
              } as PublishPacket;
              broker.publish(out, () => undefined);
            });
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
