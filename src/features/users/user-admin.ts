/**
 * What an operator does to accounts from the command line (`skyvault admin …`, src/admin.ts) when no
 * one can log in: give a user a new password, create a user. The same rules as the web's account
 * management (AccountService): generated passwords returned once, to be printed; a reset ends the
 * user's sessions.
 */
import { AppError } from '../../shared/app-error.ts';
import { SessionRepo } from '../auth/session.repo.ts';
import type { Repositories } from '../repositories.ts';
import { AccountService } from './account.service.ts';
import type { Role } from './roles.ts';

/** Sets a new generated password for `username`; returns it. UserNotFound when there is no such user. */
export async function resetPassword(
  repos: Repositories,
  username: string,
  options: { passwordHashCost: number; now: number },
): Promise<string> {
  const user = await repos.users.findByUsername(username);
  if (!user) throw new AppError('UserNotFound', `There is no user "${username}".`);
  return accountsOf(repos, options).resetPassword(undefined, user.workspaceId, user.id);
}

/**
 * Creates a user with a role in a workspace, with a generated password (returned) and its own MQTT
 * account (the username, as for the first admin). A taken username is refused.
 */
export async function createUser(
  repos: Repositories,
  request: { workspaceId: string; username: string; role: Role; serverAdmin?: boolean },
  options: { passwordHashCost: number; now: number },
): Promise<{ password: string; mqttUsername: string }> {
  if (!(await repos.workspaces.findById(request.workspaceId))) {
    throw new AppError('WorkspaceNotFound', `There is no workspace ${request.workspaceId}.`);
  }
  try {
    const { user, password } = await accountsOf(repos, options).create(
      request.workspaceId,
      { username: request.username, role: request.role },
      { serverAdmin: request.serverAdmin === true },
    );
    return { password, mqttUsername: user.mqttUsername };
  } catch (error) {
    if (error instanceof AppError && error.kind === 'UsernameTaken') {
      throw new AppError(
        'UsernameTaken',
        `A user (or device account) named "${request.username}" exists already.`,
      );
    }
    throw error;
  }
}

function accountsOf(repos: Repositories, options: { passwordHashCost: number; now: number }): AccountService {
  const sessions = new SessionRepo(repos.db);
  return new AccountService({
    users: repos.users,
    workspaces: repos.workspaces,
    // No server runs here: ending sessions is deleting their rows (servers see it within seconds).
    sessions: {
      endAllOf: async (userId, except) => (await sessions.deleteByUser(userId, except)).length,
      forgetUser: () => {},
    },
    passwordHashCost: options.passwordHashCost,
    now: () => options.now,
  });
}
