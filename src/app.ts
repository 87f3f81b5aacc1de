/**
 * The composition root: configuration → database (migrated) → first-start bootstrap → services (media,
 * devices, live updates) → transports (HTTP, the MQTT gateway and, by default, the embedded broker).
 * Builds everything, listens on nothing; `listen()` and `close()` are separate so tests can drive the app
 * with inject() or on port 0. Later capabilities (logs, web UI) are wired here the same way, each as a
 * service handed to the transports that use it.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.ts';
import { redactUrl } from './config/parsers.ts';
import { type Database, openDatabase } from './db/database.ts';
import { TokenService } from './features/auth/token.service.ts';
import { type BootstrapResult, bootstrap } from './features/bootstrap.ts';
import { DeviceService } from './features/devices/device.service.ts';
import { LiveEvents } from './features/events/live-events.ts';
import { DockMediaService } from './features/media/dock-media.service.ts';
import { MediaEnricher } from './features/media/media-enricher.ts';
import { MediaLibraryService } from './features/media/media-library.service.ts';
import { MediaService } from './features/media/media.service.ts';
import { UserService } from './features/users/user.service.ts';
import { PublicAddresses } from './http/public-address.ts';
import { createHttpServer } from './http/server.ts';
import { EmbeddedBroker } from './mqtt/embedded-broker.ts';
import { configHandler } from './mqtt/handlers/config.ts';
import { airportBindStatusHandler } from './mqtt/handlers/airport-bind-status.ts';
import { airportOrganizationBindHandler } from './mqtt/handlers/airport-organization-bind.ts';
import { airportOrganizationGetHandler } from './mqtt/handlers/airport-organization-get.ts';
import { fileUploadCallbackHandler } from './mqtt/handlers/file-upload-callback.ts';
import { flighttaskProgressHandler } from './mqtt/handlers/flighttask-progress.ts';
import { highestPriorityUploadHandler } from './mqtt/handlers/highest-priority-upload-flighttask-media.ts';
import { storageConfigGetHandler } from './mqtt/handlers/storage-config-get.ts';
import { updateTopoHandler } from './mqtt/handlers/update-topo.ts';
import { MqttGateway } from './mqtt/mqtt-gateway.ts';
import { createLogger, type Logger } from './shared/logger.ts';
import { reachableHosts } from './shared/network.ts';
import { newId, randomSecret } from './shared/ids.ts';
import { StartupError } from './shared/startup-error.ts';
import { VERSION } from './shared/version.ts';
import { LocalStorageProvider } from './storage/local/local.provider.ts';

export interface BuildAppOptions {
  logger?: Logger;
  /** Current time in epoch ms; tests move it to expire tokens. */
  now?: () => number;
}

export interface SkyvaultApp {
  config: Config;
  http: FastifyInstance;
  database: Database;
  storage: LocalStorageProvider;
  /** Background metadata and thumbnails of recorded media. */
  enricher: MediaEnricher;
  devices: DeviceService;
  /** Live updates for the web (WebSocket), across instances on PostgreSQL. */
  live: LiveEvents;
  /** The embedded MQTT broker; undefined when SKYVAULT_MQTT_URL names an external one. */
  broker: EmbeddedBroker | undefined;
  /** Skyvault's MQTT client: device messages in, replies and service calls out. */
  gateway: MqttGateway;
  logger: Logger;
  bootstrap: BootstrapResult;
  /** Starts the listeners; resolves with the bound addresses (the ports chosen when 0 was asked). */
  listen(): Promise<ListeningAddresses>;
  close(): Promise<void>;
}

export interface ListeningAddresses {
  http: { protocol: 'http' | 'https'; host: string; port: number };
  storage: { port: number };
  /** The embedded broker's ports; undefined with an external broker (tlsPort: without TLS). */
  mqtt: { port: number | undefined; tlsPort: number | undefined };
}

export async function buildApp(config: Config, options: BuildAppOptions = {}): Promise<SkyvaultApp> {
  const logger = options.logger ?? createLogger(config.log.level);
  const now = options.now ?? Date.now;
  const database = await openDatabase(config.database);
  let storage: LocalStorageProvider | undefined;
  try {
    const boot = await bootstrap(database.db, {
      adminUsername: config.admin.username,
      adminPassword: config.admin.password,
      jwtSecret: config.auth.jwtSecret,
      now: now(),
    });
    const tokens = new TokenService({
      secret: boot.jwtSecret,
      ttlSeconds: config.auth.tokenTtlSeconds,
      refreshWindowSeconds: config.auth.refreshWindowSeconds,
      now,
    });
    const users = new UserService(database.db, tokens);
    const addresses = new PublicAddresses({
      publicUrl: config.http.publicUrl,
      mqttPublicUrl: config.mqtt.publicUrl,
      mqttPort: () => broker?.port || config.mqtt.port,
    });
    storage = new LocalStorageProvider({
      root: config.storage.root,
      bucket: config.storage.bucket,
      region: config.storage.region,
      secret: boot.storageSecret,
      host: config.http.host,
      port: config.storage.port,
      publicEndpoint: config.storage.publicEndpoint,
      defaultPublicHostname: config.http.publicUrl
        ? new URL(config.http.publicUrl).hostname
        : reachableHosts(config.http.host)[0]!.replace(/^\[|\]$/g, ''),
      tls: config.http.tls,
      logger: logger.child({ component: 'storage' }),
      now,
    });
    const store = storage;
    const enricher = new MediaEnricher(database.db, {
      storage: store,
      logger: logger.child({ component: 'enricher' }),
      now,
    });
    const live = new LiveEvents({
      logger: logger.child({ component: 'live' }),
      now,
      postgresUrl: config.database.kind === 'postgres' ? config.database.url : undefined,
    });
    const media = new MediaService(database.db, {
      live,
      storage: store,
      credentialTtlSeconds: config.storage.credentialTtlSeconds,
      now,
      onRecorded: (file) => enricher.enqueue(file.id),
    });
    const devices = new DeviceService(database.db, {
      now,
      live,
      logger: logger.child({ component: 'devices' }),
      onBound: async (gatewaySn, workspaceId) => {
        // Called only once messages flow, after dockMedia below exists.
        const recorded = await dockMedia.recordPending(gatewaySn, workspaceId);
        if (recorded)
          logger.info({ gatewaySn, recorded }, 'recorded the media a gateway sent before it was bound');
      },
    });
    const dockMedia: DockMediaService = new DockMediaService(database.db, {
      media,
      devices,
      live,
      // The gateway is built below; calls happen only once it runs.
      commands: { call: (sn, method, data): Promise<{ result: number }> => gateway.call(sn, method, data) },
      logger: logger.child({ component: 'dock-media' }),
      now,
    });
    const mqttLogger = logger.child({ component: 'mqtt' });
    const internalAccount = { username: `skyvault-internal-${newId()}`, password: randomSecret(24) };
    const broker = config.mqtt.external
      ? undefined
      : new EmbeddedBroker({
          host: config.http.host,
          port: config.mqtt.port,
          tls: config.http.tls
            ? { port: config.mqtt.tlsPort, cert: config.http.tls.cert, key: config.http.tls.key }
            : undefined,
          authenticate: (username, password) => users.mqttAccount(username, password),
          workspaceOfDevice: (sn) => devices.workspaceOf(sn),
          internal: internalAccount,
          onGatewayDisconnected: (sn) => {
            devices
              .markOffline(sn)
              .catch((error: unknown) =>
                mqttLogger.warn({ err: error, sn }, 'could not mark a gateway offline'),
              );
          },
          logger: mqttLogger,
        });
    const gateway: MqttGateway = new MqttGateway({
      url: config.mqtt.external?.url ?? '',
      username: config.mqtt.external?.username ?? internalAccount.username,
      password: config.mqtt.external?.password ?? internalAccount.password,
      clientId: `skyvault-${createHash('sha256').update(`${hostname()}:${config.dataDir}`).digest('hex').slice(0, 16)}`,
      sharedGroup: config.mqtt.external?.sharedGroup,
      serviceTimeoutMs: config.mqtt.replyTimeoutMs,
      serviceRetries: config.mqtt.retries,
      logger: mqttLogger,
      handlers: [
        updateTopoHandler({
          devices,
          accountWorkspaceOf: (sn) => broker?.acl.accountOf(sn)?.workspaceId,
          logger: mqttLogger,
        }),
        storageConfigGetHandler({ devices, media, publicHostname: () => undefined, logger: mqttLogger }),
        fileUploadCallbackHandler({ dockMedia, logger: mqttLogger }),
        highestPriorityUploadHandler({ dockMedia, logger: mqttLogger }),
        flighttaskProgressHandler({ dockMedia }),
        configHandler({ app: config.dji, logger: mqttLogger }),
        airportBindStatusHandler({ db: database.db, devices, logger: mqttLogger }),
        airportOrganizationGetHandler({ db: database.db, devices, logger: mqttLogger }),
        airportOrganizationBindHandler({ db: database.db, devices, logger: mqttLogger }),
      ],
    });
    const library = new MediaLibraryService(database.db, {
      storage: store,
      linkTtlSeconds: config.storage.credentialTtlSeconds,
    });
    const http = await createHttpServer({
      config,
      logger,
      database,
      tokens,
      users,
      media,
      library,
      live,
      mqttOverWebSocket: broker ? (stream, request) => broker.handle(stream, request) : undefined,
      devices,
      dockMedia,
      addresses,
      version: VERSION,
    });
    await http.ready();

    let closed = false;
    return {
      config,
      http,
      database,
      storage: store,
      enricher,
      devices,
      live,
      broker,
      gateway,
      logger,
      bootstrap: boot,
      async listen() {
        let storagePort: number;
        try {
          storagePort = await store.listen();
        } catch (error) {
          throw listenError(error, 'SKYVAULT_STORAGE_PORT', config.http.host, config.storage.port);
        }
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
        const address = http.server.address();
        const port = typeof address === 'object' && address ? address.port : config.http.port;
        return {
          http: { protocol: config.http.tls ? 'https' : 'http', host: config.http.host, port },
          storage: { port: storagePort },
          mqtt: { port: mqttPort, tlsPort: broker?.tlsPort },
        };
      },
      async close() {
        if (closed) return;
        closed = true;
        await http.close();
        await gateway.close();
        await broker?.close();
        await live.close();
        await enricher.close();
        await store.close();
        await database.close();
      },
    };
  } catch (error) {
    await storage?.close();
    await database.close();
    throw error;
  }
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
