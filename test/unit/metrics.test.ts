/**
 * The pieces of /metrics that need no server (docs/metrics.md): the bearer-token check Prometheus'
 * scrapes go through, and the Metrics registry itself: its own per instance (never prom-client's
 * global one), the process metrics only when /metrics can be read, and a gauge that cannot be read
 * left out of a scrape instead of failing it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { bearerTokenCheck } from '../../src/http/routes/metrics.routes.ts';
import { Metrics, type MetricSources } from '../../src/metrics/metrics.ts';

const TOKEN = 'unit-metrics-token-0123456789abcdef-xyz';

const sources = (over: Partial<MetricSources> = {}): MetricSources => ({
  gatewayQueueDepth: () => 7,
  enrichmentBacklog: () => 3,
  databasePoolWaiting: () => 2,
  onlineDevices: async () => ({ gateway: 4, sub_device: 5 }),
  ...over,
});

describe('the bearer token check of /metrics', () => {
  const check = bearerTokenCheck(TOKEN);

  it('lets the token through as a Bearer credential, whatever the case of the scheme', () => {
    for (const header of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer   ${TOKEN}  `]) {
      assert.equal(check(header), 'ok', header);
    }
  });

  it('calls a missing or other credential missing', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer    ',
      TOKEN,
      `Basic ${TOKEN}`,
      `Token ${TOKEN}`,
    ]) {
      assert.equal(check(header), 'missing', String(header));
    }
  });

  it('refuses any other token, however close', () => {
    for (const given of [
      'wrong',
      TOKEN.slice(0, -1),
      `${TOKEN}x`,
      `x${TOKEN}`,
      TOKEN.toUpperCase(),
      `${TOKEN} ${TOKEN}`,
      TOKEN.replace(/.$/, (c) => String.fromCharCode(c.charCodeAt(0) + 1)),
    ]) {
      assert.equal(check(`Bearer ${given}`), 'invalid', given);
    }
  });
});

describe('Metrics', () => {
  it('keeps a registry of its own per instance, and nothing in the global one', async () => {
    const one = new Metrics({ enabled: false });
    const two = new Metrics({ enabled: false });
    one.uploadBytes.inc({ source: 'pilot' }, 1000);
    two.uploadBytes.inc({ source: 'pilot' }, 5);
    assert.match(await one.registry.metrics(), /upload_bytes_total\{source="pilot"\} 1000\n/);
    assert.match(await two.registry.metrics(), /upload_bytes_total\{source="pilot"\} 5\n/);
    assert.doesNotMatch(await globalRegistry.metrics(), /skyvault_/);
  });

  it('starts the process metrics only when /metrics is on', async () => {
    const off = await new Metrics({ enabled: false }).exposition();
    assert.doesNotMatch(off.text, /skyvault_process_cpu_seconds_total/);
    const on = await new Metrics({ enabled: true }).exposition();
    assert.match(on.text, /^skyvault_process_cpu_seconds_total \d/m);
    assert.match(on.text, /^skyvault_process_resident_memory_bytes \d/m);
    assert.match(on.text, /^# TYPE skyvault_nodejs_eventloop_lag_seconds gauge$/m);
    assert.match(on.contentType, /^text\/plain; version=0\.0\.4/);
  });

  it('reads the gauges from their sources at each scrape, both upload sources from the start', async () => {
    const metrics = new Metrics({ enabled: false });
    let depth = 7;
    metrics.readFrom(sources({ gatewayQueueDepth: () => depth }));
    let { text } = await metrics.exposition();
    assert.match(text, /^skyvault_gateway_queue_depth 7$/m);
    assert.match(text, /^skyvault_enrichment_backlog 3$/m);
    assert.match(text, /^skyvault_database_pool_waiting 2$/m);
    assert.match(text, /^skyvault_connected_devices\{kind="gateway"\} 4$/m);
    assert.match(text, /^skyvault_connected_devices\{kind="sub_device"\} 5$/m);
    assert.match(text, /^skyvault_upload_bytes_total\{source="pilot"\} 0$/m);
    assert.match(text, /^skyvault_upload_bytes_total\{source="dock"\} 0$/m);
    depth = 0;
    ({ text } = await metrics.exposition());
    assert.match(text, /^skyvault_gateway_queue_depth 0$/m);
  });

  it('leaves out the devices online when the database cannot say, and answers the rest', async () => {
    const failures: string[] = [];
    const metrics = new Metrics({ enabled: false, onCollectError: (gauge) => failures.push(gauge) });
    let down = false;
    metrics.readFrom(
      sources({
        onlineDevices: async () => {
          if (down) throw new Error('database away');
          return { gateway: 1, sub_device: 0 };
        },
      }),
    );
    assert.match((await metrics.exposition()).text, /^skyvault_connected_devices\{kind="gateway"\} 1$/m);
    down = true;
    const { text } = await metrics.exposition();
    assert.doesNotMatch(text, /^skyvault_connected_devices\{/m);
    assert.match(text, /^skyvault_gateway_queue_depth 7$/m);
    assert.deepEqual(failures, ['skyvault_connected_devices']);
  });
});
