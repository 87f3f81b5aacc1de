/**
 * What an operator's Prometheus reads at /metrics (docs/metrics.md): one registry per app, never
 * prom-client's global one (tests run many apps in one process, and each must count only its own), and
 * every instrument Skyvault records, typed, in this one place. The app builds one `Metrics` and hands it
 * to whoever records: the HTTP server (a hook per response), the MQTT gateway (each device message), the
 * media service (each new file's bytes); the gauges read the parts' current state at each scrape
 * (`readFrom`), so nothing is recorded for them on any hot path.
 *
 * Names follow Prometheus' conventions: a `skyvault_` prefix, the unit in the name (`_seconds`,
 * `_bytes`), `_total` on counters. Labels are bounded: route patterns (never raw URLs), DJI method names
 * Skyvault handles (others are "other"), a few results.
 *
 * Off (no SKYVAULT_METRICS_TOKEN), nobody can read them, so what costs something is not started: the
 * Node process metrics (prom-client's default metrics start a GC observer and an event-loop monitor that
 * cannot be stopped), the per-response HTTP hook and the database pool timer. The counters the gateway
 * and the media service increment (a few hundred nanoseconds, once per message or file) stay.
 */
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type PrometheusContentType,
} from 'prom-client';

export const METRICS_PREFIX = 'skyvault_';

/** What a device message handled by the MQTT gateway came to (the `result` label). */
export type DeviceEventResult =
  /** Handled: answered with result 0, or with the handler's own reply. */
  | 'ok'
  /** Refused for good: answered with a non-zero result, so the device stops retrying. */
  | 'refused'
  /** Failed (storage or broker away, a bug): left unanswered, so the device sends it again. */
  | 'error'
  /** No handler for its method (counted as method "other"); requests get "not supported". */
  | 'unhandled'
  /** Not a DJI envelope (bad JSON, no tid…): ignored, counted as method "other". */
  | 'invalid';

/** The parts whose current state the gauges read at each scrape. */
export interface MetricSources {
  /** Device messages the MQTT gateway holds: waiting for their turn or being handled. */
  gatewayQueueDepth(): number;
  /** Files waiting for enrichment (metadata, thumbnails), the one in progress included. */
  enrichmentBacklog(): number;
  /** Queries waiting for a pooled database connection (PostgreSQL; 0 on SQLite). */
  databasePoolWaiting(): number;
  /** Devices marked online, gateways (docks, remote controllers) and sub-devices (aircraft) apart. */
  onlineDevices(): Promise<{ gateway: number; sub_device: number }>;
}

export interface MetricsOptions {
  /**
   * Whether /metrics can be read (SKYVAULT_METRICS_TOKEN set): starts the process metrics here; the app
   * then also counts HTTP requests and times pool checkouts.
   */
  enabled: boolean;
  /** Told when a gauge could not be read at a scrape (the scrape still answers, without it). */
  onCollectError?: (gauge: string, error: unknown) => void;
}

/** Request durations: 1 ms (a token check) to 30 s (a large zip, a slow storage). */
const HTTP_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Waits for a pooled connection: none at all when the pool keeps up, up to its 5 s connect timeout. */
const ACQUIRE_SECONDS_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

export class Metrics {
  readonly registry = new Registry<PrometheusContentType>();
  readonly enabled: boolean;

  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpRequestDuration: Histogram<'method' | 'route'>;
  readonly deviceEvents: Counter<'method' | 'result'>;
  readonly uploadBytes: Counter<'source'>;
  readonly databasePoolAcquire: Histogram;
  readonly gatewayQueueDepth: Gauge;
  readonly enrichmentBacklog: Gauge;
  readonly databasePoolWaiting: Gauge;
  readonly connectedDevices: Gauge<'kind'>;

  private sources: MetricSources | undefined;

  constructor(options: MetricsOptions) {
    this.enabled = options.enabled;
    const registers = [this.registry];
    const name = (suffix: string) => METRICS_PREFIX + suffix;
    const sources = () => this.sources;

    this.httpRequests = new Counter({
      name: name('http_requests_total'),
      help: 'HTTP requests answered, by method, route pattern ("unmatched" when no route) and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpRequestDuration = new Histogram({
      name: name('http_request_duration_seconds'),
      help: 'Time from receiving an HTTP request to sending its answer, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: HTTP_SECONDS_BUCKETS,
      registers,
    });
    this.deviceEvents = new Counter({
      name: name('device_events_total'),
      help: 'MQTT messages from devices handled by Skyvault, by DJI method ("other" when not handled) and result (ok, refused, error, unhandled, invalid).',
      labelNames: ['method', 'result'],
      registers,
    });
    this.uploadBytes = new Counter({
      name: name('upload_bytes_total'),
      help: 'Bytes of the new media files devices reported as uploaded, by source (pilot, dock).',
      labelNames: ['source'],
      registers,
    });
    // Both series from the start, so that rate() sees the first upload of each.
    for (const source of ['pilot', 'dock']) this.uploadBytes.inc({ source }, 0);
    this.databasePoolAcquire = new Histogram({
      name: name('database_pool_acquire_seconds'),
      help: 'Time a query waited for a pooled PostgreSQL connection (nothing on SQLite).',
      buckets: ACQUIRE_SECONDS_BUCKETS,
      registers,
    });
    this.gatewayQueueDepth = new Gauge({
      name: name('gateway_queue_depth'),
      help: 'Device messages the MQTT gateway holds, waiting for their turn or being handled.',
      registers,
      collect() {
        this.set(sources()?.gatewayQueueDepth() ?? 0);
      },
    });
    this.enrichmentBacklog = new Gauge({
      name: name('enrichment_backlog'),
      help: 'Media files waiting for their metadata and thumbnails, the one in progress included.',
      registers,
      collect() {
        this.set(sources()?.enrichmentBacklog() ?? 0);
      },
    });
    this.databasePoolWaiting = new Gauge({
      name: name('database_pool_waiting'),
      help: 'Queries waiting for a pooled PostgreSQL connection (0 on SQLite).',
      registers,
      collect() {
        this.set(sources()?.databasePoolWaiting() ?? 0);
      },
    });
    this.connectedDevices = new Gauge({
      name: name('connected_devices'),
      help: 'Devices online, by kind: gateway (docks, remote controllers) or sub_device (aircraft).',
      labelNames: ['kind'],
      registers,
      async collect() {
        const from = sources();
        if (!from) return;
        try {
          const online = await from.onlineDevices();
          this.set({ kind: 'gateway' }, online.gateway);
          this.set({ kind: 'sub_device' }, online.sub_device);
        } catch (error) {
          // Left out of this scrape rather than failing all of it: the other metrics matter most
          // precisely when the database is away.
          this.reset();
          options.onCollectError?.(METRICS_PREFIX + 'connected_devices', error);
        }
      },
    });
    if (this.enabled) {
      // CPU seconds, resident memory, heap, event-loop lag, GC, open files: skyvault_process_…,
      // skyvault_nodejs_….
      collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });
    }
  }

  /** Tells the gauges where to read (once the parts are built). */
  readFrom(sources: MetricSources): void {
    this.sources = sources;
  }

  /** The registry in Prometheus' text exposition format, and the content type that names it. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
