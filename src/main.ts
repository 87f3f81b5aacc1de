/**
 * `skyvault serve`: the process entry. Reads the configuration, builds the app, listens, prints in
 * plain words where Skyvault can be reached and how to log in, and shuts down gracefully on SIGTERM /
 * SIGINT. Operator mistakes (bad settings, port taken, database unreachable) end the process with one
 * clear sentence each and exit code 1, without a stack trace.
 */
import closeWithGrace from 'close-with-grace';
import type { ListeningAddresses, SkyvaultApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config/config.ts';
import { redactUrl } from './config/parsers.ts';
import { reachableHosts } from './shared/network.ts';
import { StartupError } from './shared/startup-error.ts';
import { VERSION } from './shared/version.ts';

export interface ServeOptions {
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  err?: (line: string) => void;
}

/** Starts Skyvault; resolves once listening (the process then lives until a signal). Returns the exit code on failure. */
export async function serve(options: ServeOptions = {}): Promise<number | undefined> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = options.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  let app: SkyvaultApp | undefined;
  try {
    const { config, warnings } = loadConfig({
      env: options.env ?? process.env,
      cwd: process.cwd(),
      configFile: options.configFile,
    });
    for (const warning of warnings) err(`Warning: ${warning}`);
    // Loaded only once the settings are known good: a bad one is reported in a fraction of a second.
    const { buildApp } = await import('./app.ts');
    app = await buildApp(config);
    const addresses = await app.listen();
    const started = app;
    closeWithGrace(
      { delay: 10_000, logger: { error: (m: unknown) => started.logger.error(m) } },
      async ({ signal, err: error }) => {
        if (error) started.logger.error({ err: error }, 'shutting down after an unexpected error');
        else started.logger.info({ signal }, 'shutting down');
        await started.close();
      },
    );
    for (const line of await describeStartup(app, addresses)) out(line);
    return undefined;
  } catch (error) {
    await app?.close().catch(() => {});
    if (error instanceof ConfigError) {
      for (const warning of error.warnings) err(`Warning: ${warning}`);
      err(error.message);
      return 1;
    }
    if (error instanceof StartupError) {
      err(`Skyvault cannot start: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function describeStartup(app: SkyvaultApp, addresses: ListeningAddresses): Promise<string[]> {
  const { config } = app;
  const { protocol, port } = addresses.http;
  const urls = config.http.publicUrl
    ? [config.http.publicUrl]
    : reachableHosts(config.http.host).map((host) => `${protocol}://${host}:${port}`);
  const main = urls[0]!;
  const workspace = await app.repos.workspaces.findById(app.bootstrap.defaultWorkspaceId);
  const lines = [
    `Skyvault ${VERSION} is ready.`,
    `  Web and API:    ${urls.join('  ')}`,
    `  API reference:  ${main}/docs`,
    `  Health check:   ${main}/healthz`,
    ...(config.metrics.token === undefined
      ? []
      : [`  Metrics:        ${main}/metrics (Prometheus; bearer token SKYVAULT_METRICS_TOKEN)`]),
    `  Object storage: ${app.storage.endpointFor(new URL(main).hostname.replace(/^\[|\]$/g, ''))} (${
      config.storage.kind === 'local' ? 'embedded, S3 path-style' : config.storage.kind
    }, bucket "${config.storage.bucket}", region ${config.storage.region})`,
    `  MQTT (devices): ${
      config.mqtt.external
        ? `external broker ${redactUrl(config.mqtt.external.url)}`
        : (config.mqtt.publicUrl ??
            `tcp://${new URL(main).hostname}:${addresses.mqtt.port ?? config.mqtt.port}`) +
          " (embedded broker; devices log in with a user's MQTT credentials)"
    }`,
    ...(addresses.mqtt.tlsPort
      ? [`  MQTT over TLS:  ssl://${new URL(main).hostname}:${addresses.mqtt.tlsPort} (same logins)`]
      : []),
    `  Database:       ${describeDatabase(config)}`,
    `  Data directory: ${config.dataDir}`,
  ];
  if (workspace)
    lines.push(`  Workspace:      ${workspace.name} (id ${workspace.id}, bind code ${workspace.bindCode})`);
  const root = app.bootstrap.storageRoot;
  if (config.storage.kind === 'local' && root.generated) {
    lines.push(
      `  Storage root:   access key "${root.accessKey}", secret key "${root.secretKey}" (for S3 clients and other Skyvault instances; generated on first start and shown only this once, or set SKYVAULT_STORAGE_ACCESS_KEY / _SECRET_KEY)`,
    );
  }
  const admin = app.bootstrap.createdAdmin;
  if (admin) {
    if (admin.generated) {
      lines.push(`  Admin login:    username "${admin.username}", password "${admin.password}"`);
      lines.push(
        '  This password was generated on first start and is shown only this once: keep it somewhere safe.',
      );
    } else {
      lines.push(
        `  Admin login:    username "${admin.username}", with the password from SKYVAULT_ADMIN_PASSWORD`,
      );
    }
  } else {
    lines.push(
      '  Log in with an existing account; `skyvault admin reset-password [--username NAME]` sets a new password.',
    );
  }
  lines.push(`  Try it: curl -s ${main}/manage/api/v1/login -H 'content-type: application/json' \\`);
  lines.push(
    `            -d '{"username":"${admin?.username ?? config.admin.username}","password":"…","flag":1}'`,
  );
  return lines;
}

function describeDatabase(config: Config): string {
  return config.database.kind === 'sqlite'
    ? `SQLite ${config.database.file}`
    : `PostgreSQL ${redactUrl(config.database.url)}`;
}
