/**
 * First start: create the default workspace (with a bind code) and its admin user, and the token
 * signing secret unless one is configured. Runs at every start and does nothing once done. Safe when
 * several instances start at once on one PostgreSQL: the claim on the `bootstrap` setting decides which
 * one creates the rows, inside one transaction, and the others wait for it and find them.
 */
import { newId, randomSecret, readableCode } from '../shared/ids.ts';
import type { Repositories } from './repositories.ts';
import { hashPassword } from './users/password.ts';

export interface BootstrapOptions {
  adminUsername: string;
  /** undefined = generate one (returned once, to be printed). */
  adminPassword: string | undefined;
  /** undefined = generate one and keep it in the database. */
  jwtSecret: string | undefined;
  /** scrypt cost (log2 N) of the admin's password hash. */
  passwordHashCost: number;
  now: number;
}

export interface BootstrapResult {
  defaultWorkspaceId: string;
  jwtSecret: string;
  /** Authenticates the embedded store's temporary credentials; shared by every instance. */
  storageSecret: string;
  /** Set only by the start that created the admin user. */
  createdAdmin?: { username: string; password: string; generated: boolean };
}

export const DEFAULT_WORKSPACE_NAME = 'Default workspace';
export const PLATFORM_NAME = 'Skyvault';

export async function bootstrap(repos: Repositories, options: BootstrapOptions): Promise<BootstrapResult> {
  const { settings } = repos;
  const jwtSecret = options.jwtSecret ?? (await settings.getOrInsert('jwt_secret', randomSecret(48)));
  const storageSecret = await settings.getOrInsert('storage_secret', randomSecret(48));
  const existing = await settings.get('default_workspace_id');
  if (existing) return { defaultWorkspaceId: existing, jwtSecret, storageSecret };

  const password = options.adminPassword ?? readableCode(16);
  // Hashing takes ~100 ms; do it outside the transaction that may hold a lock.
  const passwordHash = await hashPassword(password, { cost: options.passwordHashCost });
  const workspaceId = newId();

  return repos.transaction(async (trx) => {
    const defaultWorkspaceId = await trx.settings.getOrInsert('default_workspace_id', workspaceId);
    if (defaultWorkspaceId !== workspaceId) return { defaultWorkspaceId, jwtSecret, storageSecret };

    await trx.workspaces.insert({
      id: workspaceId,
      name: DEFAULT_WORKSPACE_NAME,
      description: 'Created on first start.',
      platformName: PLATFORM_NAME,
      bindCode: readableCode(6),
      createdAt: options.now,
      updatedAt: options.now,
    });
    await trx.users.insert({
      id: newId(),
      workspaceId,
      username: options.adminUsername,
      passwordHash,
      userType: 1,
      mqttUsername: options.adminUsername,
      mqttPassword: randomSecret(18),
      createdAt: options.now,
      updatedAt: options.now,
    });
    return {
      defaultWorkspaceId,
      jwtSecret,
      storageSecret,
      createdAdmin: {
        username: options.adminUsername,
        password,
        generated: options.adminPassword === undefined,
      },
    };
  });
}
