/**
 * Starting and stopping the parts of a built app, in order, with one plain sentence for each way a
 * listener can fail (port taken, privileged port, address not of this machine, broker refused).
 *
 * Start: object store → live updates → embedded broker → Skyvault's MQTT client → HTTP → background
 * enrichment. Devices are told the storage and MQTT addresses, so those listen before HTTP accepts a
 * login. Stop is the reverse: HTTP first (no new work), then the MQTT client (handled messages finish and
 * reply), the broker, live updates, enrichment, storage, and the database last.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.ts';
import { redactUrl } from './config/parsers.ts';
import type { Database } from './db/database.ts';
import type { LiveEvents } from './features/events/live-events.ts';
import type { LogTaskService } from './features/logs/log-task.service.ts';
import type { DockMediaService } from './features/media/dock-media.service.ts';
import type { MediaEnricher } from './features/media/media-enricher.ts';
import type { PublicAddresses } from './http/public-address.ts';
import type { EmbeddedBroker } from './mqtt/embedded-broker.ts';
import type { MqttGateway } from './mqtt/mqtt-gateway.ts';
import type { Logger } from './shared/logger.ts';
import { StartupError } from './shared/startup-error.ts';
import type { LocalStorageProvider } from './storage/local/local.provider.ts';
import type { StorageProvider } from './storage/provider.ts';

export interface ListeningAddresses {
  http: { protocol: 'http' | 'https'; host: string; port: number };
  /** The embedded store's port; undefined with cloud storage. */
  storage: { port: number | undefined };
  /** The embedded broker's ports; undefined with an external broker (tlsPort: without TLS). */
  mqtt: { port: number | undefined; tlsPort: number | undefined };
}

/** The parts that listen or run in the background, as the composition root built them. */
export interface RunningParts {
  config: Config;
  logger: Logger;
  database: Database;
  storage: StorageProvider;
  /** The embedded store, when it is the storage (it listens); undefined with cloud storage. */
  embeddedStore: LocalStorageProvider | undefined;
  /** Checks that cloud storage is usable before anything listens (StartupError otherwise). */
  checkStorage: () => Promise<void>;
  live: LiveEvents;
  broker: EmbeddedBroker | undefined;
  gateway: MqttGateway;
  http: FastifyInstance;
  enricher: MediaEnricher;
  /** Announces flights' upload progress a moment after their files (closed before live updates). */
  dockMedia: DockMediaService;
  /** Watches open log uploads for silence. */
  logTasks: LogTaskService;
  addresses: PublicAddresses;
}

export async function startParts(parts: RunningParts): Promise<ListeningAddresses> {
  const { config, embeddedStore, live, broker, gateway, http, enricher, logTasks, logger } = parts;
  let storagePort: number | undefined;
  if (embeddedStore) {
    try {
      storagePort = await embeddedStore.listen();
    } catch (error) {
      throw listenError(error, 'SKYVAULT_STORAGE_PORT', config.http.host, config.storage.port);
    }
  }
  await parts.checkStorage();
  await live.start();
  let mqttPort: number | undefined;
  if (broker) {
    try {
      mqttPort = await broker.start();
    } catch (error) {
      const tlsFailed = (error as { setting?: string }).setting === 'SKYVAULT_MQTTS_PORT';
      throw tlsFailed
        ? listenError(error, 'SKYVAULT_MQTTS_PORT', config.http.host, config.mqtt.tlsPort)
        : listenError(error, 'SKYVAULT_MQTT_PORT', config.http.host, config.mqtt.port);
    }
    parts.addresses.setMqttPort(mqttPort);
  }
  try {
    await gateway.start(broker ? `mqtt://${loopbackOf(config.http.host)}:${mqttPort}` : undefined);
  } catch (error) {
    throw new StartupError(
      `The MQTT broker at ${redactUrl(config.mqtt.external?.url ?? `port ${mqttPort}`)} cannot be used (${(error as Error).message}); check SKYVAULT_MQTT_URL and its credentials.`,
      { cause: error },
    );
  }
  try {
    await http.listen({ host: config.http.host, port: config.http.port });
  } catch (error) {
    throw listenError(error, 'SKYVAULT_HTTP_PORT', config.http.host, config.http.port);
  }
  enricher
    .resume()
    .catch((error: unknown) => logger.warn({ err: error }, 'could not resume media enrichment'));
  // Log uploads left open by a stopped instance are timed out (or watched) from now on.
  logTasks.start();
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  return {
    http: { protocol: config.http.tls ? 'https' : 'http', host: config.http.host, port },
    storage: { port: storagePort },
    mqtt: { port: mqttPort, tlsPort: broker?.tlsPort },
  };
}

export async function stopParts(parts: RunningParts): Promise<void> {
  await parts.http.close();
  parts.logTasks.close();
  await parts.gateway.close();
  await parts.broker?.close();
  await parts.dockMedia.close();
  await parts.live.close();
  await parts.enricher.close();
  await parts.storage.close();
  await parts.database.close();
}

/** Where this process reaches a listener bound to `host` (a wildcard address means loopback). */
function loopbackOf(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function listenError(error: unknown, setting: string, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new StartupError(
      `Port ${port} is already in use on ${host}: stop the program using it or set ${setting} to another port (0 picks a free one).`,
      { cause: error },
    );
  }
  if (code === 'EACCES') {
    return new StartupError(
      `Port ${port} needs more privileges than Skyvault has: set ${setting} to a port above 1023, or put a reverse proxy in front.`,
      { cause: error },
    );
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new StartupError(`SKYVAULT_HOST ${host} is not an address of this machine.`, { cause: error });
  }
  return error as Error;
}
