/**
 * What an operator does to accounts from the command line (`skyvault admin …`, src/admin.ts) when no
 * one can log in: give a user a new password, create a user. Passwords are generated and returned once,
 * to be printed; only their hashes are stored.
 */
import { isUniqueViolation } from '../../db/errors.ts';
import type { UserType } from '../../db/schema.ts';
import { AppError } from '../../shared/app-error.ts';
import { newId, randomSecret, readableCode } from '../../shared/ids.ts';
import type { Repositories } from '../repositories.ts';
import { hashPassword } from './password.ts';

/** Sets a new generated password for `username`; returns it. UserNotFound when there is no such user. */
export async function resetPassword(
  repos: Repositories,
  username: string,
  options: { passwordHashCost: number; now: number },
): Promise<string> {
  const user = await repos.users.findByUsername(username);
  if (!user) throw new AppError('UserNotFound', `There is no user "${username}".`);
  const password = readableCode(16);
  await repos.users.setPasswordHash(
    user.id,
    await hashPassword(password, { cost: options.passwordHashCost }),
    options.now,
  );
  return password;
}

/**
 * Creates a user in a workspace with a generated password (returned) and its own MQTT account (the
 * username, as for the first admin). A taken username is refused.
 */
export async function createUser(
  repos: Repositories,
  request: { workspaceId: string; username: string; userType: UserType },
  options: { passwordHashCost: number; now: number },
): Promise<{ password: string; mqttUsername: string }> {
  if (!(await repos.workspaces.findById(request.workspaceId))) {
    throw new AppError('WorkspaceNotFound', `There is no workspace ${request.workspaceId}.`);
  }
  const password = readableCode(16);
  const passwordHash = await hashPassword(password, { cost: options.passwordHashCost });
  try {
    await repos.users.insert({
      id: newId(),
      workspaceId: request.workspaceId,
      username: request.username,
      passwordHash,
      userType: request.userType,
      mqttUsername: request.username,
      mqttPassword: randomSecret(18),
      createdAt: options.now,
      updatedAt: options.now,
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError(
        'BadRequest',
        `A user (or device account) named "${request.username}" exists already.`,
      );
    }
    throw error;
  }
  return { password, mqttUsername: request.username };
}
