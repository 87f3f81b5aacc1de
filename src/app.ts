/**
 * The composition root: configuration → database (migrated) → first-start bootstrap → services (media,
 * devices, live updates) → transports (HTTP, the MQTT gateway and, by default, the embedded broker).
 * Builds everything, listens on nothing; `listen()` and `close()` are separate so tests can drive the app
 * with inject() or on port 0. Later capabilities (logs, web UI) are wired here the same way, each as a
 * service handed to the transports that use it.
 */
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.ts';
import { type Database, openDatabase } from './db/database.ts';
import { LoginLimiter } from './features/auth/login-limiter.ts';
import { PasswordHasher } from './features/auth/password-hasher.ts';
import { SessionRepo } from './features/auth/session.repo.ts';
import { SessionService } from './features/auth/session.service.ts';
import { TokenService } from './features/auth/token.service.ts';
import { type BootstrapResult, bootstrap, ensureAdmin, PLATFORM_NAME } from './features/bootstrap.ts';
import { Repositories } from './features/repositories.ts';
import { DeviceService } from './features/devices/device.service.ts';
import { LiveEvents } from './features/events/live-events.ts';
import { LogTaskRepo } from './features/logs/log-task.repo.ts';
import { LogTaskService } from './features/logs/log-task.service.ts';
import { DockMediaService } from './features/media/dock-media.service.ts';
import { MediaEnricher } from './features/media/media-enricher.ts';
import { MediaRepo } from './features/media/media.repo.ts';
import { MediaLibraryService } from './features/media/media-library.service.ts';
import { MediaService } from './features/media/media.service.ts';
import { MediaZipRepo } from './features/media/media-zip.repo.ts';
import { MediaZipService } from './features/media/media-zip.service.ts';
import { AccountService } from './features/users/account.service.ts';
import { UserService } from './features/users/user.service.ts';
import { WorkspaceService } from './features/workspaces/workspace.service.ts';
import { PublicAddresses } from './http/public-address.ts';
import { connectLiveUpdates } from './http/routes/live.wire.ts';
import { createHttpServer } from './http/server.ts';
import { Metrics } from './metrics/metrics.ts';
import { type ListeningAddresses, type RunningParts, startParts, stopParts } from './lifecycle.ts';
import { EmbeddedBroker } from './mqtt/embedded-broker.ts';
import { configHandler } from './mqtt/handlers/config-request.ts';
import { airportBindStatusHandler } from './mqtt/handlers/airport-bind-status.ts';
import { airportOrganizationBindHandler } from './mqtt/handlers/airport-organization-bind.ts';
import { airportOrganizationGetHandler } from './mqtt/handlers/airport-organization-get.ts';
import { fileuploadProgressHandler } from './mqtt/handlers/fileupload-progress.ts';
import { fileUploadCallbackHandler } from './mqtt/handlers/file-upload-callback.ts';
import { flighttaskProgressHandler } from './mqtt/handlers/flighttask-progress.ts';
import { highestPriorityUploadHandler } from './mqtt/handlers/highest-priority-upload-flighttask-media.ts';
import { stateHandler } from './mqtt/handlers/state.ts';
import { storageConfigGetHandler } from './mqtt/handlers/storage-config-get.ts';
import { updateTopoHandler } from './mqtt/handlers/update-topo.ts';
import {
  derivedInternalPrincipal,
  randomInternalPrincipal,
  skyvaultClientId,
} from './mqtt/internal-principal.ts';
import { MqttLogCommands } from './mqtt/log-commands.ts';
import { type MethodHandler, MqttGateway } from './mqtt/mqtt-gateway.ts';
import { createLogger, type Logger } from './shared/logger.ts';
import { reachableHosts } from './shared/network.ts';
import { loadSecretKey, SecretBox } from './shared/secret-box.ts';
import { VERSION } from './shared/version.ts';
import type { LocalStorageProvider } from './storage/local/local.provider.ts';
import { openStorage } from './storage/open-storage.ts';
import type { StorageProvider } from './storage/provider.ts';

export interface BuildAppOptions {
  logger?: Logger;
  /** Current time in epoch ms; tests move it to expire tokens. */
  now?: () => number;
}

export interface SkyvaultApp {
  config: Config;
  http: FastifyInstance;
  database: Database;
  /** The repositories every service was given (one set, over `database`). */
  repos: Repositories;
  storage: StorageProvider;
  /** The embedded store, when SKYVAULT_STORAGE=local (it listens on its own port); undefined otherwise. */
  embeddedStore: LocalStorageProvider | undefined;
  /** Background metadata and thumbnails of recorded media. */
  enricher: MediaEnricher;
  devices: DeviceService;
  /** Remote device logs: upload tasks and their progress. */
  logTasks: LogTaskService;
  /** Workspaces as server administrators manage them (deletions run in the background). */
  workspaces: WorkspaceService;
  /** Live updates for the web (WebSocket), across instances on PostgreSQL. */
  live: LiveEvents;
  /** The embedded MQTT broker; undefined when SKYVAULT_MQTT_URL names an external one. */
  broker: EmbeddedBroker | undefined;
  /** Skyvault's MQTT client: device messages in, replies and service calls out. */
  gateway: MqttGateway;
  /** This app's metrics (its own registry), served at /metrics with SKYVAULT_METRICS_TOKEN. */
  metrics: Metrics;
  logger: Logger;
  bootstrap: BootstrapResult;
  /**
   * Starts the listeners, then creates the admin user on a first start (`bootstrap.createdAdmin`);
   * resolves with the bound addresses (the ports chosen when 0 was asked).
   */
  listen(): Promise<ListeningAddresses>;
  /** Creates the admin user on a first start, without listening (tests that use inject()). */
  ensureAdmin(): Promise<void>;
  close(): Promise<void>;
}

export type { ListeningAddresses } from './lifecycle.ts';

export async function buildApp(config: Config, options: BuildAppOptions = {}): Promise<SkyvaultApp> {
  const logger = options.logger ?? createLogger(config.log.level);
  const now = options.now ?? Date.now;
  // One registry per app (metrics/metrics.ts), handed to whoever records; the gauges read the parts below.
  const metrics = new Metrics({
    enabled: config.metrics.token !== undefined,
    onCollectError: (gauge, error) => logger.warn({ err: error, gauge }, 'a metric could not be read'),
  });
  const database = await openDatabase(config.database, {
    onAcquire: metrics.enabled ? (seconds) => metrics.databasePoolAcquire.observe(seconds) : undefined,
  });
  let storage: StorageProvider | undefined;
  try {
    const secrets = new SecretBox(loadSecretKey(config.auth.secretKey, config.dataDir));
    const repos = new Repositories(database.db, secrets);
    const boot = await bootstrap(repos, {
      jwtSecret: config.auth.jwtSecret,
      secretKeyFingerprint: secrets.fingerprint(),
      storageRoot: config.storage.rootCredentials,
      now: now(),
    });
    const tokens = new TokenService({
      secret: boot.jwtSecret,
      ttlSeconds: config.auth.tokenTtlSeconds,
      refreshWindowSeconds: config.auth.refreshWindowSeconds,
      now,
    });
    // Logins hash on worker threads of their own (started when first needed), a bounded number at once,
    // and are rate-limited per account and per address (docs/configuration.md, "Logins").
    const hasher = new PasswordHasher({
      concurrency: config.auth.passwordHashConcurrency,
      maxQueued: config.auth.passwordHashQueue,
    });
    // Every login is a session a request checks (features/auth/session.service.ts): logout, revocation,
    // an absolute lifetime.
    const sessions = new SessionService({
      repo: new SessionRepo(database.db),
      tokens,
      lifetimeSeconds: config.auth.sessionLifetimeSeconds,
      now,
    });
    const users = new UserService({
      users: repos.users,
      workspaces: repos.workspaces,
      sessions,
      passwordHashCost: config.auth.passwordHashCost,
      hasher,
      limiter: new LoginLimiter({
        perAccountPerMinute: config.auth.loginLimitPerAccount,
        perAddressPerMinute: config.auth.loginLimitPerAddress,
        now,
      }),
    });
    const addresses = new PublicAddresses({
      publicUrl: config.http.publicUrl,
      mqttPublicUrl: config.mqtt.publicUrl,
      mqttPort: config.mqtt.port,
    });
    // The embedded store, or a cloud provider checked before anything listens (storage/open-storage.ts).
    const opened = await openStorage(config, boot, {
      defaultPublicHostname: config.http.publicUrl
        ? new URL(config.http.publicUrl).hostname
        : reachableHosts(config.http.host)[0]!.replace(/^\[|\]$/g, ''),
      logger: logger.child({ component: 'storage' }),
      now,
    });
    storage = opened.storage;
    const store = storage;
    const live = new LiveEvents({
      logger: logger.child({ component: 'live' }),
      now,
      postgres:
        config.database.kind === 'postgres'
          ? { url: config.database.url, notifier: database.background }
          : undefined,
    });
    const media = new MediaService({
      repo: repos.media,
      storage: store,
      credentialTtlSeconds: config.storage.credentialTtlSeconds,
      now,
      metrics,
    });
    const enricher = new MediaEnricher({
      // Its writes are redone at the next start if a database crash loses them: they need not wait for
      // the disk (Database.background).
      repo: database.dialect === 'postgres' ? new MediaRepo(database.background) : repos.media,
      storage: store,
      logger: logger.child({ component: 'enricher' }),
      ffmpegPath: config.media.ffmpegPath,
      now,
    });
    media.events.on('recorded', ({ file, claimed }) => enricher.enqueue(file.id, claimed ? file : undefined));
    const devices = new DeviceService({
      devices: repos.devices,
      workspaces: repos.workspaces,
      now,
      logger: logger.child({ component: 'devices' }),
    });
    const library = new MediaLibraryService({
      repo: repos.media,
      storage: store,
      linkTtlSeconds: config.storage.credentialTtlSeconds,
    });
    const zips = new MediaZipService({
      repo: new MediaZipRepo(database.db),
      storage: store,
      logger: logger.child({ component: 'zip' }),
    });

    // MQTT: the embedded broker (unless an external one is configured), Skyvault's client, and the
    // services that call devices through that client.
    const mqttLogger = logger.child({ component: 'mqtt' });
    // Skyvault's own MQTT identity (issue 13, mqtt/internal-principal.ts): a reserved client id and an
    // internal principal no device account can be; on an external broker, the operator's account, or the
    // principal the broker hooks verify (SKYVAULT_MQTT_HOOK_SECRET).
    const clientId = skyvaultClientId(hostname(), config.dataDir);
    const external = config.mqtt.external;
    const internalAccount =
      external && !external.username && config.mqtt.hookSecret
        ? derivedInternalPrincipal(clientId, config.mqtt.hookSecret)
        : randomInternalPrincipal();
    const broker = external
      ? undefined
      : embeddedBroker(config, { users, devices, internal: internalAccount, logger: mqttLogger });
    const gateway = new MqttGateway({
      url: external?.url ?? '',
      username: external?.username ?? internalAccount.username,
      password: external?.username
        ? (external.password ?? internalAccount.password)
        : internalAccount.password,
      clientId,
      sharedGroup: config.mqtt.external?.sharedGroup,
      serviceTimeoutMs: config.mqtt.replyTimeoutMs,
      serviceRetries: config.mqtt.retries,
      logger: mqttLogger,
      metrics,
    });
    // Accounts (issue 13): an account that may no longer use MQTT as it did is disconnected from the
    // embedded broker at once; an external broker refuses it at its next authorization (docs/mqtt.md).
    const onMqttAccountRevoked = broker ? (name: string) => void broker.disconnectAccount(name) : undefined;
    const accounts = new AccountService({
      users: repos.users,
      workspaces: repos.workspaces,
      sessions,
      hasher,
      passwordHashCost: config.auth.passwordHashCost,
      onMqttAccountRevoked,
      now,
    });
    const workspaceService = new WorkspaceService({
      workspaces: repos.workspaces,
      users: repos.users,
      storage: store,
      // Credentials issued just before a deletion write until they expire; a minute's margin for clocks.
      credentialTtlMs: (config.storage.credentialTtlSeconds + 60) * 1000,
      defaultWorkspaceId: boot.defaultWorkspaceId,
      platformName: PLATFORM_NAME,
      forgetSessions: () => sessions.forgetAll(),
      onMqttAccountRevoked,
      logger: logger.child({ component: 'workspaces' }),
      now,
    });
    const dockMedia = new DockMediaService({
      media,
      devices,
      mediaRepo: repos.media,
      pendingReports: repos.pendingReports,
      commands: gateway,
      logger: logger.child({ component: 'dock-media' }),
      now,
    });
    const logTasks = new LogTaskService({
      repo: new LogTaskRepo(database.db),
      devices,
      storage: store,
      commands: new MqttLogCommands(gateway),
      credentialTtlSeconds: config.storage.credentialTtlSeconds,
      uploadTimeoutSeconds: config.logs.uploadTimeoutSeconds,
      logger: logger.child({ component: 'logs' }),
      now,
    });
    gateway.register(
      mqttHandlers(config, {
        devices,
        media,
        dockMedia,
        logTasks,
        accountWorkspaceOf: broker ? (sn) => broker.acl.accountOf(sn)?.workspaceId : () => undefined,
        logger: mqttLogger,
      }),
    );
    connectLiveUpdates(live, { devices, media, dockMedia, logTasks });
    metrics.readFrom({
      gatewayQueueDepth: () => gateway.queueDepth,
      enrichmentBacklog: () => enricher.backlog,
      databasePoolWaiting: () => database.poolWaiting(),
      onlineDevices: () => devices.countOnline(),
    });

    const http = await createHttpServer({
      config,
      logger,
      database,
      sessions,
      users,
      accounts,
      workspaces: workspaceService,
      defaultWorkspaceId: boot.defaultWorkspaceId,
      media,
      library,
      zips,
      live,
      mqttOverWebSocket: broker ? (stream, request) => broker.handle(stream, request) : undefined,
      devices,
      dockMedia,
      logTasks,
      addresses,
      storageHealth: {
        kind: config.storage.kind === 'local' ? 'embedded' : config.storage.kind,
        ping: opened.ping,
      },
      metrics,
      version: VERSION,
    });
    await http.ready();

    const parts: RunningParts = {
      config,
      logger,
      database,
      storage: store,
      embeddedStore: opened.embedded,
      checkStorage: () => opened.check(),
      live,
      broker,
      gateway,
      http,
      enricher,
      dockMedia,
      logTasks,
      addresses,
    };
    let closed = false;
    const adminOnce = async () => {
      boot.createdAdmin ??= await ensureAdmin(repos, boot.defaultWorkspaceId, {
        adminUsername: config.admin.username,
        adminPassword: config.admin.password,
        passwordHashCost: config.auth.passwordHashCost,
        now: now(),
      });
    };
    return {
      config,
      http,
      database,
      repos,
      storage: store,
      embeddedStore: opened.embedded,
      enricher,
      devices,
      logTasks,
      workspaces: workspaceService,
      live,
      broker,
      gateway,
      metrics,
      logger,
      bootstrap: boot,
      async listen() {
        const addresses = await startParts(parts);
        // Only now that every listener is up: a start that failed has created no admin nobody saw.
        await adminOnce();
        await workspaceService.start();
        return addresses;
      },
      ensureAdmin: adminOnce,
      async close() {
        if (closed) return;
        closed = true;
        try {
          await workspaceService.close();
          await stopParts(parts);
        } finally {
          await hasher.close();
        }
      },
    };
  } catch (error) {
    await storage?.close();
    await database.close();
    throw error;
  }
}

/** The embedded broker: devices log in with users' MQTT accounts; ownership is DeviceService's rule. */
function embeddedBroker(
  config: Config,
  deps: {
    users: UserService;
    devices: DeviceService;
    internal: { username: string; password: string };
    logger: Logger;
  },
): EmbeddedBroker {
  const { users, devices, logger } = deps;
  return new EmbeddedBroker({
    host: config.http.host,
    port: config.mqtt.port,
    tls: config.http.tls
      ? { port: config.mqtt.tlsPort, cert: config.http.tls.cert, key: config.http.tls.key }
      : undefined,
    authenticate: (username, password) => users.mqttAccount(username, password),
    boundElsewhere: (sn, workspaceId) => devices.boundElsewhere(sn, workspaceId),
    internal: deps.internal,
    onGatewayDisconnected: (sn) => {
      devices
        .markOffline(sn)
        .catch((error: unknown) => logger.warn({ err: error, sn }, 'could not mark a gateway offline'));
    },
    logger,
  });
}

/** One handler per DJI method the gateway answers (src/mqtt/handlers/). */
function mqttHandlers(
  config: Config,
  deps: {
    devices: DeviceService;
    media: MediaService;
    dockMedia: DockMediaService;
    logTasks: LogTaskService;
    /** The workspace of the MQTT account holding a gateway SN (embedded broker only). */
    accountWorkspaceOf: (gatewaySn: string) => string | undefined;
    logger: Logger;
  },
): MethodHandler[] {
  const { devices, media, dockMedia, logTasks, logger } = deps;
  return [
    updateTopoHandler({ devices, accountWorkspaceOf: deps.accountWorkspaceOf }),
    stateHandler({ devices }),
    storageConfigGetHandler({ devices, media }),
    fileUploadCallbackHandler({ dockMedia, logger }),
    highestPriorityUploadHandler({ dockMedia, logger }),
    flighttaskProgressHandler({ dockMedia }),
    fileuploadProgressHandler({ logTasks }),
    configHandler({ app: config.dji, logger }),
    airportBindStatusHandler({ devices }),
    airportOrganizationGetHandler({ devices }),
    airportOrganizationBindHandler({ devices, logger }),
  ];
}
