/**
 * First start: create the default workspace (with a bind code) and its admin user, and the token
 * signing secret unless one is configured. Runs at every start and does nothing once done. Safe when
 * several instances start at once on one PostgreSQL: the claim on the `bootstrap` setting decides which
 * one creates the rows, inside one transaction, and the others wait for it and find them.
 */
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { newId, randomSecret, readableCode } from '../shared/ids.ts';
import { SettingsRepo } from './settings/settings.repo.ts';
import { hashPassword } from './users/password.ts';

export interface BootstrapOptions {
  adminUsername: string;
  /** undefined = generate one (returned once, to be printed). */
  adminPassword: string | undefined;
  /** undefined = generate one and keep it in the database. */
  jwtSecret: string | undefined;
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

export async function bootstrap(db: Kysely<DB>, options: BootstrapOptions): Promise<BootstrapResult> {
  const settings = new SettingsRepo(db);
  const jwtSecret = options.jwtSecret ?? (await settings.getOrInsert('jwt_secret', randomSecret(48)));
  const storageSecret = await settings.getOrInsert('storage_secret', randomSecret(48));
  const existing = await settings.get('default_workspace_id');
  if (existing) return { defaultWorkspaceId: existing, jwtSecret, storageSecret };

  const password = options.adminPassword ?? readableCode(16);
  // Hashing takes ~100 ms; do it outside the transaction that may hold a lock.
  const passwordHash = await hashPassword(password);
  const workspaceId = newId();

  return db.transaction().execute(async (trx) => {
    const defaultWorkspaceId = await new SettingsRepo(trx).getOrInsert('default_workspace_id', workspaceId);
    if (defaultWorkspaceId !== workspaceId) return { defaultWorkspaceId, jwtSecret, storageSecret };

    await trx
      .insertInto('workspaces')
      .values({
        id: workspaceId,
        name: DEFAULT_WORKSPACE_NAME,
        description: 'Created on first start.',
        platformName: PLATFORM_NAME,
        bindCode: readableCode(6),
        createdAt: options.now,
        updatedAt: options.now,
      })
      .execute();
    await trx
      .insertInto('users')
      .values({
        id: newId(),
        workspaceId,
        username: options.adminUsername,
        passwordHash,
        userType: 1,
        mqttUsername: options.adminUsername,
        mqttPassword: randomSecret(18),
        createdAt: options.now,
        updatedAt: options.now,
      })
      .execute();
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
