/**
 * The Fastify application, built but not listening (listening is main.ts's job, so tests use inject()).
 * Everything cross-cutting is set here: logging, limits, the DJI error envelope, JSON parsing, CORS,
 * OpenAPI at /docs; then public routes, then every other route inside the authenticated context.
 */
import { createSecureContext } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createWebSocketStream } from 'ws';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Config } from '../config/config.ts';
import type { Database } from '../db/database.ts';
import type { SessionService } from '../features/auth/session.service.ts';
import type { DeviceService } from '../features/devices/device.service.ts';
import type { LiveEvents } from '../features/events/live-events.ts';
import type { LogTaskService } from '../features/logs/log-task.service.ts';
import type { DockMediaService } from '../features/media/dock-media.service.ts';
import type { MediaLibraryService } from '../features/media/media-library.service.ts';
import type { MediaService } from '../features/media/media.service.ts';
import type { MediaZipService } from '../features/media/media-zip.service.ts';
import type { AccountService } from '../features/users/account.service.ts';
import type { UserService } from '../features/users/user.service.ts';
import type { WorkspaceService } from '../features/workspaces/workspace.service.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Logger } from '../shared/logger.ts';
import { StartupError } from '../shared/startup-error.ts';
import { ErrorEnvelope } from './envelope.ts';
import { installErrorHandling } from './errors.ts';
import { lazySchemaController } from './lazy-schemas.ts';
import { installAuth, TOKEN_HEADER } from './plugins/auth.ts';
import type { PublicAddresses } from './public-address.ts';
import { accountRoutes } from './routes/api/accounts.routes.ts';
import { apiRoutes } from './routes/api/index.ts';
import { mediaLibraryRoutes } from './routes/dji/media-library.routes.ts';
import { pilotMediaRoutes } from './routes/dji/pilot-media.routes.ts';
import { type HealthRoutesOptions, healthRoutes } from './routes/health.routes.ts';
import { liveRoutes } from './routes/live.routes.ts';
import { countRequests, metricsRoutes } from './routes/metrics.routes.ts';
import { mqttAuthRoutes } from './routes/mqtt-auth.routes.ts';
import { deviceLogRoutes } from './routes/manage/device-logs.routes.ts';
import { deviceRoutes } from './routes/manage/devices.routes.ts';
import { sessionRoutes } from './routes/manage/session.routes.ts';
import { userRoutes } from './routes/manage/users.routes.ts';
import { pilotPageRoutes } from './routes/pilot-page.routes.ts';
import { webAppRoutes } from './routes/web-app.routes.ts';

export interface HttpDeps {
  config: Config;
  logger: Logger;
  database: Database;
  sessions: SessionService;
  users: UserService;
  /** A workspace's users as its administrators manage them. */
  accounts: AccountService;
  /** Workspaces as server administrators manage them. */
  workspaces: WorkspaceService;
  defaultWorkspaceId: string;
  media: MediaService;
  library: MediaLibraryService;
  /** Zips of many library files, streamed (the web library's "download selected"). */
  zips: MediaZipService;
  live: LiveEvents;
  /** The embedded broker's entry for a WebSocket connection (absent with an external broker). */
  mqttOverWebSocket?: ((stream: Duplex, request: IncomingMessage) => void) | undefined;
  devices: DeviceService;
  dockMedia: DockMediaService;
  /** Remote device logs (dock log uploads). */
  logTasks: LogTaskService;
  addresses: PublicAddresses;
  /** What /healthz says of the object storage, and how it asks it. */
  storageHealth: HealthRoutesOptions['storage'];
  /** The app's metrics: requests counted here, /metrics served with SKYVAULT_METRICS_TOKEN. */
  metrics: Metrics;
  version: string;
  /** Where the built web app is (tests point elsewhere); default dist/web. */
  webRoot?: string | undefined;
}

export async function createHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    ...(config.http.tls ? { https: tlsOptions(config.http.tls) } : {}),
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    requestIdHeader: 'x-request-id',
    // Pilot 2 is often configured with a trailing "/" on the host, so paths arrive as //media/api/…
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    schemaController: lazySchemaController,
  }).withTypeProvider<TypeBoxTypeProvider>();

  installErrorHandling(app);
  installJsonParser(app);
  // Every request, 404s included, counted by route pattern, when something can read the counts.
  if (deps.metrics.enabled) countRequests(app, deps.metrics);
  app.addSchema(ErrorEnvelope);

  // DJI's demo web front end may run on another origin; tokens travel in a header, not cookies.
  await app.register(cors, {
    origin: true,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['content-type', TOKEN_HEADER, 'x-request-id'],
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Skyvault API',
        version: deps.version,
        description:
          'DJI Cloud API endpoints (DJI envelope {code, message, data}) and the Skyvault management API. Authenticate with the access token from /manage/api/v1/login in the x-auth-token header.',
      },
      components: {
        securitySchemes: {
          token: { type: 'apiKey', in: 'header', name: TOKEN_HEADER },
          metricsToken: { type: 'http', scheme: 'bearer' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Limits each frame; live updates are small and MQTT packets from devices a few hundred KB at most.
  await app.register(websocket, { options: { maxPayload: 4 * 1024 * 1024 } });
  await app.register(healthRoutes, { database: deps.database, storage: deps.storageHealth });
  // EMQX's auth hooks, with SKYVAULT_MQTT_HOOK_SECRET only.
  await app.register(mqttAuthRoutes, {
    hookSecret: deps.config.mqtt.hookSecret,
    users: deps.users,
    devices: deps.devices,
    logger: deps.logger,
  });
  await app.register(webAppRoutes, deps.webRoot ? { root: deps.webRoot } : {});
  await app.register(authenticatedRoutes, deps);
  return app;
}

/** Every API route, inside the context where a token is required unless a route is marked public. */
const authenticatedRoutes: FastifyPluginAsync<HttpDeps> = async (api, deps) => {
  installAuth(api, deps.sessions);
  await api.register(sessionRoutes, { users: deps.users, addresses: deps.addresses });
  await api.register(userRoutes, { users: deps.users, addresses: deps.addresses });
  await api.register(pilotMediaRoutes, { media: deps.media, addresses: deps.addresses });
  await api.register(mediaLibraryRoutes, { library: deps.library, addresses: deps.addresses });
  await api.register(deviceRoutes, { devices: deps.devices, dockMedia: deps.dockMedia });
  await api.register(deviceLogRoutes, {
    logTasks: deps.logTasks,
    devices: deps.devices,
    addresses: deps.addresses,
    linkTtlSeconds: deps.config.storage.credentialTtlSeconds,
  });
  await api.register(accountRoutes, {
    users: deps.users,
    accounts: deps.accounts,
    sessions: deps.sessions,
    workspaces: deps.workspaces,
    defaultWorkspaceId: deps.defaultWorkspaceId,
  });
  await api.register(liveRoutes, { sessions: deps.sessions, live: deps.live });
  // Prometheus, with SKYVAULT_METRICS_TOKEN only: public for access tokens, it checks its own.
  await api.register(metricsRoutes, { metrics: deps.metrics, token: deps.config.metrics.token });
  await api.register(pilotPageRoutes, { config: deps.config, users: deps.users, addresses: deps.addresses });
  await api.register(apiRoutes, deps);
  if (deps.mqttOverWebSocket) {
    const handle = deps.mqttOverWebSocket;
    // MQTT over WebSocket on the HTTP port (ws://host:port/mqtt), for devices and networks that need it;
    // the broker authenticates the connection itself.
    api.get(
      '/mqtt',
      { websocket: true, config: { public: true }, schema: { hide: true } },
      (socket, request) => handle(createWebSocketStream(socket), request.raw),
    );
  }
};

/**
 * Fastify's JSON parser, except that an empty body counts as no body: some clients send
 * `Content-Type: application/json` with nothing (token/refresh has no payload), which is not an error.
 */
function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return parseJson(request, text, done);
  });
}

function tlsOptions(tls: NonNullable<Config['http']['tls']>) {
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (error) {
    throw new StartupError(
      `SKYVAULT_TLS_CERT (${tls.certFile}) and SKYVAULT_TLS_KEY (${tls.keyFile}) are not a usable PEM certificate and matching private key: ${(error as Error).message}.`,
      { cause: error },
    );
  }
  return { cert: tls.cert, key: tls.key };
}
