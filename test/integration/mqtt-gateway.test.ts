/**
 * The MQTT gateway on its own: replies follow the one error model (a handler that throws a final
 * AppError gets a reply with the catalogue's `result`; a transient one, or an unexpected failure, gets
 * no reply, so the device resends and a later attempt can succeed), and service calls take only the
 * reply that echoes their tid and bid. Real embedded broker, real gateway client, a real MQTT.js device.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EmbeddedBroker } from '../../src/mqtt/embedded-broker.ts';
import { MqttGateway } from '../../src/mqtt/mqtt-gateway.ts';
import { AppError, mqttResultOf } from '../../src/shared/app-error.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { connectDock, type TestDock } from '../helpers/dock.ts';

const SN = 'DOCK-ERRORS';
const internal = { username: 'internal-test', password: 'internal-secret' };
const device = { username: 'device-user', password: 'device-secret' };

describe('MQTT gateway', () => {
  const logger = createLogger('silent');
  let broker: EmbeddedBroker;
  let gateway: MqttGateway;
  let dock: TestDock;
  let flakyCalls = 0;

  before(async () => {
    broker = new EmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      authenticate: async (username, password) =>
        username === device.username && password.toString() === device.password
          ? { username, workspaceId: 'ws-1' }
          : undefined,
      boundElsewhere: async () => false,
      internal,
      logger,
    });
    const port = await broker.start();
    gateway = new MqttGateway({ url: '', ...internal, clientId: 'skyvault-errors-test', logger });
    gateway.register([
      {
        family: 'requests',
        method: 'final_failure',
        handle: () => Promise.reject(new AppError('GatewayNotBound')),
      },
      {
        family: 'requests',
        method: 'with_details',
        handle: () =>
          Promise.reject(new AppError('BindingRequestEmpty', undefined, { details: { err_infos: [] } })),
      },
      {
        family: 'requests',
        // Storage is down the first time, back the second.
        method: 'flaky',
        handle: async () => {
          flakyCalls += 1;
          if (flakyCalls === 1) throw new AppError('StorageUnavailable');
          return { result: 0, output: { attempt: flakyCalls } };
        },
      },
      {
        family: 'requests',
        method: 'crashes',
        handle: () => Promise.reject(new Error('a bug')),
      },
      {
        family: 'events',
        method: 'final_event',
        handle: () => Promise.reject(new AppError('DeviceNotYours')),
      },
    ]);
    await gateway.start(`mqtt://127.0.0.1:${port}`);
    dock = await connectDock(`mqtt://127.0.0.1:${port}`, SN, device);
  });

  after(async () => {
    await dock.close();
    await gateway.close();
    await broker.close();
  });

  it('answers a final error with its result', async () => {
    const reply = await dock.send('requests', 'final_failure', {});
    assert.equal(reply?.data.result, mqttResultOf('GatewayNotBound'));
    assert.equal(reply?.data.result, 314001);
    assert.deepEqual(reply?.data.output, {});
    assert.equal(reply?.method, 'final_failure');
  });

  it('renders the error’s details as output', async () => {
    const reply = await dock.send('requests', 'with_details', {});
    assert.equal(reply?.data.result, 210002);
    assert.deepEqual(reply?.data.output, { err_infos: [] });
  });

  it('leaves a transient error unanswered, and answers the resend once it succeeds', async () => {
    const tid = 'flaky-request-1';
    const first = await dock.send('requests', 'flaky', {}, { tid, timeoutMs: 1500 });
    assert.equal(first, undefined, 'no reply: the device must send it again');
    const again = await dock.send('requests', 'flaky', {}, { tid });
    assert.equal(again?.data.result, 0);
    assert.deepEqual(again?.data.output, { attempt: 2 });
  });

  it('leaves an unexpected failure unanswered', async () => {
    assert.equal(await dock.send('requests', 'crashes', {}, { timeoutMs: 1500 }), undefined);
  });

  it('answers an event that needs a reply with the final error’s result, and not one that does not', async () => {
    const reply = await dock.send('events', 'final_event', {}, { needReply: true });
    assert.equal(reply?.data.result, 210003);
    assert.equal(
      await dock.send('events', 'final_event', {}, { needReply: false, timeoutMs: 1000 }),
      undefined,
    );
  });

  it('answers a request method Skyvault does not implement with result 1', async () => {
    const reply = await dock.send('requests', 'no_such_method', {});
    assert.equal(reply?.data.result, 1);
  });

  it('takes a service reply only with the call’s tid and bid', async () => {
    const services = `thing/product/${SN}/services`;
    await dock.client.subscribeAsync(services, { qos: 1 });
    const answered: string[] = [];
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== services) return;
      const call = JSON.parse(payload.toString()) as { tid: string; bid: string; method: string };
      const reply = (bid: string, result: number) =>
        JSON.stringify({ tid: call.tid, bid, timestamp: Date.now(), method: call.method, data: { result } });
      // A stray reply with the right tid and another bid first, then the real one.
      void dock.client.publishAsync(`${services}_reply`, reply('another-bid', 7), { qos: 1 }).then(() => {
        answered.push('stray');
        return dock.client.publishAsync(`${services}_reply`, reply(call.bid, 0), { qos: 1 });
      });
    };
    dock.client.on('message', onMessage);
    try {
      const reply = await gateway.call(SN, 'test_service', {}, 'the-bid');
      assert.deepEqual(answered, ['stray']);
      assert.equal(reply.bid, 'the-bid');
      assert.equal(reply.result, 0, 'the stray reply (result 7) was not taken');
    } finally {
      dock.client.off('message', onMessage);
      await dock.client.unsubscribeAsync(services);
    }
  });
});
