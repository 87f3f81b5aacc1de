/** Rows for tests, written through the real repositories. */
import type { Kysely } from 'kysely';
import type { DB, UserType } from '../../src/db/schema.ts';
import { hashPassword } from '../../src/features/users/password.ts';
import { UserRepo } from '../../src/features/users/user.repo.ts';
import { WorkspaceRepo } from '../../src/features/workspaces/workspace.repo.ts';
import { newId, readableCode } from '../../src/shared/ids.ts';

export async function createWorkspace(db: Kysely<DB>, name = 'Other workspace'): Promise<string> {
  const id = newId();
  await new WorkspaceRepo(db).insert({
    id,
    name,
    description: '',
    platformName: 'test',
    bindCode: readableCode(8),
    createdAt: Date.now(),
    updatedAt: Date.now(),
  });
  return id;
}

export async function createUser(
  db: Kysely<DB>,
  workspaceId: string,
  username: string,
  password = 'user-password',
  options: { userType?: UserType; createdAt?: number } = {},
): Promise<string> {
  const id = newId();
  const at = options.createdAt ?? Date.now();
  await new UserRepo(db).insert({
    id,
    workspaceId,
    username,
    passwordHash: await hashPassword(password, { cost: 10 }),
    userType: options.userType ?? 2,
    mqttUsername: `mqtt-${username}`,
    mqttPassword: `mqtt-pass-${username}`,
    createdAt: at,
    updatedAt: at,
  });
  return id;
}
