/**
 * Builds a real Skyvault (real database, real HTTP stack) for one test, through the same configuration
 * path as `skyvault serve`, with its own data directory and port 0. Driven with inject() or, after
 * listen(), over the network.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp, type SkyvaultApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { createFreshDatabase, type DialectName } from './databases.ts';

export const ADMIN_PASSWORD = 'test-admin-password';

export interface TestAppOptions {
  dialect?: DialectName;
  env?: Record<string, string>;
  now?: () => number;
  /** Keep every log line (JSON) for assertions. */
  captureLogs?: boolean;
}

export interface TestApp {
  app: SkyvaultApp;
  dataDir: string;
  logs: string[];
  inject: SkyvaultApp['http']['inject'];
  /** Logs in as the admin; returns the login `data`. */
  /** `flag`: the client, 1 web (default), 2 Pilot 2 (device accounts log in only so). */
  login(username?: string, password?: string, flag?: 1 | 2): Promise<LoginData>;
  close(): Promise<void>;
}

export interface LoginData {
  user_id: string;
  username: string;
  workspace_id: string;
  user_type: number;
  mqtt_username: string;
  mqtt_password: string;
  mqtt_addr: string;
  role: string;
  server_admin: boolean;
  access_token: string;
  expires_at: number;
}

export function tempDir(prefix = 'skyvault-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A temporary directory removed when the test `t` ends, whether it passed or not. */
export function testDir(t: { after(fn: () => void): void }, prefix = 'skyvault-test-'): string {
  const dir = tempDir(prefix);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The one sentence a Skyvault with `env` refuses to start with (a StartupError from its start-up checks,
 * such as cloud storage that refuses its keys); fails the test if it starts.
 */
export async function startupRefusal(env: Record<string, string>): Promise<string> {
  const app = await startTestApp({ env });
  try {
    await app.app.listen();
  } catch (error) {
    if ((error as Error).name !== 'StartupError') throw error;
    return (error as Error).message;
  } finally {
    await app.close();
  }
  throw new Error('Skyvault started where it should have refused to');
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = tempDir();
  const database = await createFreshDatabase(options.dialect ?? 'sqlite');
  const { config } = loadConfig({
    cwd: dataDir,
    env: {
      SKYVAULT_DATA_DIR: dataDir,
      SKYVAULT_HOST: '127.0.0.1',
      SKYVAULT_HTTP_PORT: '0',
      SKYVAULT_MQTT_PORT: '0',
      SKYVAULT_STORAGE_PORT: '0',
      SKYVAULT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      SKYVAULT_LOG_LEVEL: options.captureLogs ? 'trace' : 'silent',
      // The lowest scrypt cost the settings allow: production's 15 made hashing most of a test's time.
      SKYVAULT_PASSWORD_HASH_COST: '10',
      // One key for every test app: instances sharing a database must share it (a data dir's own
      // secret.key is what `skyvault serve` tests use).
      SKYVAULT_SECRET_KEY: 'skyvault-test-secret-key-0123456789abcdef',
      ...(database.url ? { SKYVAULT_DATABASE_URL: database.url } : {}),
      ...options.env,
    },
  });
  const logs: string[] = [];
  const logger = createLogger(
    config.log.level,
    new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  const released = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await database.drop();
  };
  const app = await buildApp(config, { logger, ...(options.now ? { now: options.now } : {}) }).catch(
    async (error: unknown) => {
      await released(); // no app for the test to close: drop its database here
      throw error;
    },
  );
  await app.ensureAdmin();
  return {
    app,
    dataDir,
    logs,
    inject: app.http.inject.bind(app.http),
    async login(username = 'admin', password = ADMIN_PASSWORD, flag = 1) {
      const response = await app.http.inject({
        method: 'POST',
        url: '/manage/api/v1/login',
        payload: { username, password, flag },
      });
      const body = response.json();
      if (body.code !== 0) throw new Error(`login failed: ${response.body}`);
      return body.data as LoginData;
    },
    async close() {
      try {
        await app.close();
      } finally {
        await released();
      }
    },
  };
}

/** A test app listening on its ports (HTTP and storage), with the admin logged in. */
export async function startLoggedInApp(
  options: TestAppOptions = {},
): Promise<{ t: TestApp; token: string; ws: string }> {
  const t = await startTestApp(options);
  try {
    await t.app.listen();
    const login = await t.login();
    return { t, token: login.access_token, ws: login.workspace_id };
  } catch (error) {
    await t.close();
    throw error;
  }
}
