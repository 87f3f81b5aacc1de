/**
 * First start, in two steps. `bootstrap` (while the app is built): the default workspace (with a bind
 * code) and the secrets (token signing unless configured, the embedded store's). `ensureAdmin` (once the
 * server listens): the admin user, so that a first start that fails (a port taken, say) has not created
 * an admin whose generated password nobody saw. Both run at every start and do nothing once done. Safe
 * when several instances start at once on one PostgreSQL: a claim on a setting decides which one
 * creates the rows, inside one transaction, and the others find them.
 */
import { newId, randomSecret, readableCode } from '../shared/ids.ts';
import { StartupError } from '../shared/startup-error.ts';
import type { Repositories } from './repositories.ts';
import { hashPassword } from './users/password.ts';

export interface BootstrapOptions {
  /** undefined = generate one and keep it in the database. */
  jwtSecret: string | undefined;
  /** The embedded store's root credentials; undefined = generate them and keep them in the database. */
  storageRoot?: { accessKey: string; secretKey: string } | undefined;
  /**
   * Proves which secret key seals the database's secrets (SecretBox.fingerprint): the first start
   * records it; a start with another key is refused before it could fail to open them.
   */
  secretKeyFingerprint?: string | undefined;
  now: number;
}

export interface BootstrapResult {
  defaultWorkspaceId: string;
  jwtSecret: string;
  /** Authenticates the embedded store's temporary credentials; shared by every instance. */
  storageSecret: string;
  /**
   * The embedded store's root credentials (for S3 clients and other Skyvault instances): configured,
   * or generated on first start and kept in the database; `generated` in the start that made them.
   */
  storageRoot: { accessKey: string; secretKey: string; generated: boolean };
  /** Set by `ensureAdmin` in the start that created the admin user. */
  createdAdmin?: CreatedAdmin;
}

export interface CreatedAdmin {
  username: string;
  password: string;
  /** The password was generated (to be printed once), not taken from SKYVAULT_ADMIN_PASSWORD. */
  generated: boolean;
}

export interface AdminOptions {
  adminUsername: string;
  /** undefined = generate one (returned once, to be printed). */
  adminPassword: string | undefined;
  /** scrypt cost (log2 N) of the admin's password hash. */
  passwordHashCost: number;
  now: number;
}

export const DEFAULT_WORKSPACE_NAME = 'Default workspace';
export const PLATFORM_NAME = 'Skyvault';

export async function bootstrap(repos: Repositories, options: BootstrapOptions): Promise<BootstrapResult> {
  const { settings } = repos;
  if (options.secretKeyFingerprint) {
    const recorded = await settings.getOrInsert('secret_key_check', options.secretKeyFingerprint);
    if (recorded !== options.secretKeyFingerprint) {
      throw new StartupError(
        "The secret key (SKYVAULT_SECRET_KEY, or secret.key in the data directory) is not the one this database's device passwords were encrypted with: use that key (every instance needs the same one).",
      );
    }
    await repos.users.sealPlainMqttPasswords(options.now);
  }
  const jwtSecret = options.jwtSecret ?? (await settings.getOrInsert('jwt_secret', randomSecret(48)));
  const storageSecret = await settings.getOrInsert('storage_secret', randomSecret(48));
  const storageRoot = await rootCredentials(repos, options.storageRoot);
  const existing = await settings.get('default_workspace_id');
  if (existing) return { defaultWorkspaceId: existing, jwtSecret, storageSecret, storageRoot };

  const workspaceId = newId();
  return repos.transaction(async (trx) => {
    const defaultWorkspaceId = await trx.settings.getOrInsert('default_workspace_id', workspaceId);
    if (defaultWorkspaceId !== workspaceId) {
      return { defaultWorkspaceId, jwtSecret, storageSecret, storageRoot };
    }
    await trx.workspaces.insert({
      id: workspaceId,
      name: DEFAULT_WORKSPACE_NAME,
      description: 'Created on first start.',
      platformName: PLATFORM_NAME,
      bindCode: readableCode(6),
      createdAt: options.now,
      updatedAt: options.now,
      deletingAt: null,
    });
    return { defaultWorkspaceId, jwtSecret, storageSecret, storageRoot };
  });
}

/**
 * Creates the admin user in the default workspace, once: returns it (with its password, to be printed)
 * from the start that created it, else undefined. A database that already has users (one from before
 * this step existed) is taken as set up.
 */
export async function ensureAdmin(
  repos: Repositories,
  defaultWorkspaceId: string,
  options: AdminOptions,
): Promise<CreatedAdmin | undefined> {
  if (await repos.settings.get(ADMIN_CREATED)) return undefined;
  if (await repos.users.any()) {
    await repos.settings.getOrInsert(ADMIN_CREATED, String(options.now));
    return undefined;
  }
  const password = options.adminPassword ?? readableCode(16);
  // Hashing takes ~100 ms; do it outside the transaction that may hold a lock.
  const passwordHash = await hashPassword(password, { cost: options.passwordHashCost });
  const claim = String(options.now) + ':' + newId();
  return repos.transaction(async (trx) => {
    if ((await trx.settings.getOrInsert(ADMIN_CREATED, claim)) !== claim) return undefined;
    await trx.users.insert({
      id: newId(),
      workspaceId: defaultWorkspaceId,
      username: options.adminUsername,
      passwordHash,
      userType: 1,
      mqttUsername: options.adminUsername,
      mqttPassword: randomSecret(18),
      // The first admin administers the default workspace and the server (every workspace).
      role: 'administrator',
      serverAdmin: 1,
      disabledAt: null,
      createdAt: options.now,
      updatedAt: options.now,
    });
    return {
      username: options.adminUsername,
      password,
      generated: options.adminPassword === undefined,
    };
  });
}

const ADMIN_CREATED = 'admin_created';

/** Configured root credentials, or the generated ones (made once, by whichever instance claims first). */
async function rootCredentials(
  repos: Repositories,
  configured: { accessKey: string; secretKey: string } | undefined,
): Promise<BootstrapResult['storageRoot']> {
  if (configured) return { ...configured, generated: false };
  const candidate = JSON.stringify({ accessKey: `SKYVAULT${readableCode(12)}`, secretKey: randomSecret(30) });
  const kept = await repos.settings.getOrInsert('storage_root_credentials', candidate);
  const { accessKey, secretKey } = JSON.parse(kept) as { accessKey: string; secretKey: string };
  return { accessKey, secretKey, generated: kept === candidate };
}
