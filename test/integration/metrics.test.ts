/**
 * `/metrics` for an operator's Prometheus (issue 15, docs/metrics.md), on a real Skyvault (SQLite, the
 * embedded broker and store): absent without SKYVAULT_METRICS_TOKEN, 401 without the right bearer token,
 * and with it the text exposition format, every line of which parses. The counts are checked against what
 * the test itself did: HTTP requests by route pattern (not by URL), a Pilot upload's and a dock upload's
 * bytes, a dock's MQTT messages by method and result, the devices online; and two apps in one process
 * count apart (one registry each, never prom-client's global one).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { register as globalRegistry } from 'prom-client';
import {
  connectDock,
  type DockStorageConfig,
  dockStorageClient,
  dockTopology,
  mqttAccountOf,
  type TestDock,
} from '../helpers/dock.ts';
import { testDialects } from '../helpers/databases.ts';
import { testPilot } from '../helpers/pilot.ts';
import { startLoggedInApp, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { until } from '../helpers/wait.ts';

const TOKEN = 'metrics-test-token-0123456789abcdef-0123';
const OTHER_TOKEN = 'metrics-test-other-token-0123456789abcdef';
const DOCK = 'DOCK00000000MET1';
const AIRCRAFT = '1581F5BKD225D00MET1';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The metric families (`# TYPE`) and samples of a text exposition; fails on any line it cannot read. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const labelPair = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\["\\\\n])*"';
  // Prometheus reads NaN and Inf in any case (Go's ParseFloat); prom-client writes "Nan" when the
  // event-loop monitor saw no sample since the last scrape.
  const number = '[+-]?(?:\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?|[Nn]a[Nn]|Inf)';
  const sampleLine = new RegExp(`^(${name})(?:\\{((?:${labelPair},?)*)\\})? (${number})(?: -?\\d+)?$`);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      assert.match(line, new RegExp(`^# HELP ${name} .+$`));
      continue;
    }
    const type = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      assert.ok(!types.has(type[1]!), `${type[1]} declared once`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const match = sampleLine.exec(line);
    assert.ok(match, `not a line of the text exposition format: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    }
    const family = match[1]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(match[1]!) || types.has(family), `${match[1]} has a # TYPE before it`);
    samples.push({
      name: match[1]!,
      labels,
      value: /nan/i.test(match[3]!) ? NaN : Number(match[3]!.replace(/Inf$/, 'Infinity')),
    });
  }
  return { types, samples };
}

/** The value of the one sample with this name and exactly these labels; 0 when there is none yet. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(found.length <= 1, `one ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

for (const dialect of testDialects()) {
  describe(`/metrics for Prometheus (${dialect})`, () => {
    let t: TestApp;
    let token: string;
    let ws: string;
    let plain: TestApp | undefined;
    let second: TestApp | undefined;

    before(async () => {
      ({ t, token, ws } = await startLoggedInApp({ dialect, env: { SKYVAULT_METRICS_TOKEN: TOKEN } }));
    });
    after(async () => {
      await plain?.close();
      await second?.close();
      await t?.close();
    });

    async function scrape(app: TestApp = t, with_ = TOKEN): Promise<Sample[]> {
      const response = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(with_) });
      assert.equal(response.statusCode, 200, response.body);
      return parseExposition(response.body).samples;
    }

    it('does not exist without SKYVAULT_METRICS_TOKEN: 404 as any unknown path, and not documented', async () => {
      const app = await startTestApp({ dialect });
      plain = app;
      for (const headers of [{}, bearer(TOKEN)]) {
        const response = await app.inject({ method: 'GET', url: '/metrics', headers });
        assert.equal(response.statusCode, 404);
        assert.deepEqual(response.json(), {
          code: 404,
          message: 'There is nothing at GET /metrics.',
        });
      }
      const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
      assert.equal(doc.paths['/metrics'], undefined);
      assert.ok(doc.paths['/healthz'], 'the document is the real one');
    });

    it('refuses a scrape without the token or with another: 401 with WWW-Authenticate: Bearer', async () => {
      const refusals: [Record<string, string>, 'missing' | 'invalid'][] = [
        [{}, 'missing'],
        [{ authorization: 'Bearer' }, 'missing'],
        [{ authorization: 'Bearer   ' }, 'missing'],
        [{ authorization: `Basic ${Buffer.from(`prometheus:${TOKEN}`).toString('base64')}` }, 'missing'],
        [{ authorization: TOKEN }, 'missing'],
        // A user's access token is no way in.
        [{ 'x-auth-token': token }, 'missing'],
        [bearer(token), 'invalid'],
        [bearer('wrong'), 'invalid'],
        [bearer(TOKEN.slice(0, -1)), 'invalid'],
        [bearer(`${TOKEN}x`), 'invalid'],
        [bearer(TOKEN.toUpperCase()), 'invalid'],
        [bearer(OTHER_TOKEN), 'invalid'],
      ];
      for (const [headers, kind] of refusals) {
        const response = await t.inject({ method: 'GET', url: '/metrics', headers });
        assert.equal(response.statusCode, 401, JSON.stringify(headers));
        assert.equal(
          response.headers['www-authenticate'],
          kind === 'missing' ? 'Bearer realm="skyvault"' : 'Bearer realm="skyvault", error="invalid_token"',
        );
        assert.equal(response.json().code, 401);
        assert.match(
          response.json().message,
          kind === 'missing' ? /^No metrics token: send SKYVAULT_METRICS_TOKEN/ : /not this server/,
        );
        assert.doesNotMatch(response.body, /# TYPE/);
      }
      // The scheme is case-insensitive (RFC 7235).
      const lower = await t.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `bearer ${TOKEN}` },
      });
      assert.equal(lower.statusCode, 200);
    });

    it("answers over HTTP in the text exposition format 0.0.4, every line parsable, with Node's process metrics", async () => {
      const { port } = t.app.http.server.address() as { port: number };
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: bearer(TOKEN) });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type')!, /^text\/plain; version=0\.0\.4(;|$)/);
      const { types, samples } = parseExposition(await response.text());
      const expected: Record<string, string> = {
        skyvault_http_requests_total: 'counter',
        skyvault_http_request_duration_seconds: 'histogram',
        skyvault_device_events_total: 'counter',
        skyvault_upload_bytes_total: 'counter',
        skyvault_gateway_queue_depth: 'gauge',
        skyvault_enrichment_backlog: 'gauge',
        skyvault_connected_devices: 'gauge',
        skyvault_database_pool_waiting: 'gauge',
        skyvault_database_pool_acquire_seconds: 'histogram',
        skyvault_process_cpu_seconds_total: 'counter',
        skyvault_process_resident_memory_bytes: 'gauge',
        skyvault_nodejs_eventloop_lag_seconds: 'gauge',
        skyvault_nodejs_heap_size_used_bytes: 'gauge',
      };
      for (const [name, type] of Object.entries(expected)) assert.equal(types.get(name), type, name);
      assert.ok(
        [...types.keys()].every((name) => name.startsWith('skyvault_')),
        'every name is prefixed',
      );
      for (const gauge of ['skyvault_gateway_queue_depth', 'skyvault_enrichment_backlog']) {
        assert.ok(
          samples.some((s) => s.name === gauge && s.value >= 0),
          `${gauge} has a value`,
        );
      }
      assert.equal(valueOf(samples, 'skyvault_database_pool_waiting'), 0, 'nothing waits for a connection');
      assert.ok(valueOf(samples, 'skyvault_process_resident_memory_bytes') > 10 * 1024 * 1024);
      assert.ok(valueOf(samples, 'skyvault_process_cpu_seconds_total') > 0);
      // Nothing went to prom-client's global registry (other apps in this process would share it).
      assert.equal(
        (await globalRegistry.metrics()).includes('skyvault_'),
        false,
        'the global registry holds nothing of Skyvault',
      );
    });

    it('counts requests by method, route pattern and status, never by the URL; not the scrapes', async () => {
      const route = '/api/v1/workspaces/:workspace_id/media/:file_id';
      const before = await scrape();
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      const statuses = new Set<number>();
      for (const id of ids) {
        const response = await t.inject({
          method: 'GET',
          url: `/api/v1/workspaces/${ws}/media/${id}`,
          headers: { 'x-auth-token': token },
        });
        statuses.add(response.statusCode);
      }
      assert.equal(statuses.size, 1, 'the same answer three times');
      const status = String([...statuses][0]);
      await t.inject({ method: 'GET', url: `/no/such/path/${ids[0]}` });
      await scrape();
      const after = await scrape();

      const labels = { method: 'GET', route, status };
      const count = (s: Sample[]) => valueOf(s, 'skyvault_http_requests_total', labels);
      assert.equal(count(after) - count(before), 3);
      const timed = (s: Sample[]) =>
        valueOf(s, 'skyvault_http_request_duration_seconds_count', { method: 'GET', route });
      assert.equal(timed(after) - timed(before), 3);
      const unmatched = (s: Sample[]) =>
        valueOf(s, 'skyvault_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' });
      assert.equal(unmatched(after) - unmatched(before), 1);
      // No label carries an id or a raw URL; the scrapes themselves are not counted.
      const values = after.flatMap((s) => Object.values(s.labels));
      for (const id of [ws, ...ids]) assert.ok(!values.some((v) => v.includes(id)), `no label holds ${id}`);
      assert.ok(!after.some((s) => s.labels.route === '/metrics'), 'the scrapes are not counted');
    });

    it("counts a Pilot upload's bytes once, retries of its report not again", async () => {
      const pilot = await testPilot(t, token, ws);
      const bytes = Buffer.from(`a photo for the metrics ${randomUUID()}`.repeat(40));
      const bytesOf = (s: Sample[]) => valueOf(s, 'skyvault_upload_bytes_total', { source: 'pilot' });
      const before = bytesOf(await scrape());
      const answer = await pilot.upload('metrics/DJI_0001.JPG', bytes);
      assert.equal(answer.code, 0, answer.message);
      assert.equal(bytesOf(await scrape()) - before, bytes.length);
      // Pilot retries a callback whose answer it missed: the same file, not new bytes.
      assert.equal((await pilot.upload('metrics/DJI_0001.JPG', bytes)).code, 0);
      assert.equal(bytesOf(await scrape()) - before, bytes.length);
      await t.app.enricher.idle();
    });

    describe('a dock over MQTT', () => {
      let dock: TestDock;
      before(async () => {
        const account = await mqttAccountOf(t, token);
        dock = await connectDock(`mqtt://127.0.0.1:${t.app.broker!.port}`, DOCK, account);
      });
      after(() => dock?.close());

      const events = (s: Sample[], method: string, result: string) =>
        valueOf(s, 'skyvault_device_events_total', { method, result });

      it('counts its messages by method and result, unknown methods as "other"', async () => {
        const before = await scrape();
        assert.equal((await dock.send('status', 'update_topo', dockTopology(AIRCRAFT)))?.data.result, 0);
        assert.equal((await dock.send('status', 'update_topo', dockTopology(AIRCRAFT)))?.data.result, 0);
        const refused = await dock.send('requests', 'storage_config_get', { module: 1 });
        assert.notEqual(refused?.data.result, 0);
        const unknown = await dock.send('requests', `no_such_method_${randomUUID().slice(0, 8)}`, {});
        assert.equal(unknown?.data.result, 1, 'not supported');
        // Not an envelope: ignored; the next message of the same dock is handled after it.
        await dock.send('events', 'file_upload_callback', {}, { raw: 'not json', timeoutMs: 1 });
        assert.equal((await dock.send('status', 'update_topo', dockTopology(AIRCRAFT)))?.data.result, 0);
        const after = await scrape();

        assert.equal(events(after, 'update_topo', 'ok') - events(before, 'update_topo', 'ok'), 3);
        assert.equal(
          events(after, 'storage_config_get', 'refused') - events(before, 'storage_config_get', 'refused'),
          1,
        );
        assert.equal(events(after, 'other', 'unhandled') - events(before, 'other', 'unhandled'), 1);
        assert.equal(events(after, 'other', 'invalid') - events(before, 'other', 'invalid'), 1);
        assert.ok(
          !after.some(
            (s) => s.name === 'skyvault_device_events_total' && s.labels.method!.startsWith('no_such'),
          ),
          'an unknown method is no label of its own',
        );
        assert.equal(valueOf(after, 'skyvault_connected_devices', { kind: 'gateway' }), 1);
        assert.equal(valueOf(after, 'skyvault_connected_devices', { kind: 'sub_device' }), 1);
        assert.equal(valueOf(after, 'skyvault_gateway_queue_depth'), 0, 'nothing left queued');
      });

      it("counts a dock upload's bytes as source dock", async () => {
        const bytesOf = (s: Sample[]) => valueOf(s, 'skyvault_upload_bytes_total', { source: 'dock' });
        const before = await scrape();
        const config = await dock.send('requests', 'storage_config_get', { module: 0 });
        assert.equal(config?.data.result, 0);
        const output = config!.data.output as DockStorageConfig;
        const name = 'DJI_20260101120000_0001_W.JPG';
        const key = `${output.object_key_prefix}/metrics-flight/${name}`;
        const body = Buffer.from('a dock photo for the metrics'.repeat(25));
        const s3 = dockStorageClient(output);
        await s3.send(
          new PutObjectCommand({ Bucket: output.bucket, Key: key, Body: body, ContentType: 'image/jpeg' }),
        );
        s3.destroy();
        const ack = await dock.send(
          'events',
          'file_upload_callback',
          { result: 0, file: { object_key: key, name, path: '', ext: { flight_id: 'metrics-flight' } } },
          { needReply: true },
        );
        assert.deepEqual(ack?.data, { result: 0 });
        const after = await scrape();
        assert.equal(bytesOf(after) - bytesOf(before), body.length);
        assert.equal(
          events(after, 'file_upload_callback', 'ok') - events(before, 'file_upload_callback', 'ok'),
          1,
        );
        await t.app.enricher.idle();
      });

      it('shows the dock offline once it disconnects', async () => {
        await dock.close();
        await until('the dock is offline', async () => {
          const samples = await scrape();
          return valueOf(samples, 'skyvault_connected_devices', { kind: 'gateway' }) === 0 &&
            valueOf(samples, 'skyvault_connected_devices', { kind: 'sub_device' }) === 0
            ? true
            : undefined;
        });
      });
    });

    // SQLite has one connection and no pool: it reports 0 waiting and times nothing.
    if (dialect === 'postgres') {
      it('times each wait for a pooled PostgreSQL connection, and says how many queries wait', async () => {
        const acquired = (s: Sample[]) => valueOf(s, 'skyvault_database_pool_acquire_seconds_count');
        const before = acquired(await scrape());
        for (let i = 0; i < 5; i++) {
          assert.equal((await t.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
        }
        const after = await scrape();
        // Each health check asks the database once (the scrape counts the devices online, once more).
        assert.ok(acquired(after) - before >= 5, `${acquired(after) - before} checkouts timed`);
        assert.equal(valueOf(after, 'skyvault_database_pool_waiting'), 0, 'nothing waits when idle');
      });
    }

    it('keeps the counts of two apps in one process apart', async () => {
      second = await startTestApp({ dialect, env: { SKYVAULT_METRICS_TOKEN: OTHER_TOKEN } });
      const healthz = (s: Sample[]) =>
        valueOf(s, 'skyvault_http_requests_total', { method: 'GET', route: '/healthz', status: '200' });
      const firstBefore = healthz(await scrape());
      for (let i = 0; i < 2; i++) {
        assert.equal((await second.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      }
      assert.equal(healthz(await scrape(second, OTHER_TOKEN)), 2, 'the second app counts its own two');
      assert.equal(healthz(await scrape()), firstBefore, 'the first app counts none of them');
      assert.equal(
        valueOf(await scrape(second, OTHER_TOKEN), 'skyvault_upload_bytes_total', { source: 'pilot' }),
        0,
      );
      // Each app takes its own token only.
      const crossed = await second.inject({ method: 'GET', url: '/metrics', headers: bearer(TOKEN) });
      assert.equal(crossed.statusCode, 401);
    });
  });
}
