/**
 * `skyvault admin …`: account repairs from the command line, straight on the database (the server may
 * be running or not), for when nobody can log in: `reset-password` gives a user a new generated
 * password, `create-user` adds a user. Each prints the new password once. Mistakes end with one plain
 * sentence and exit code 1 (2 for bad arguments), as `serve` does.
 */
import { parseArgs } from 'node:util';
import { reportOperatorError } from './cli-errors.ts';
import { loadConfig } from './config/config.ts';
import { openDatabase } from './db/database.ts';
import { bootstrap } from './features/bootstrap.ts';
import { Repositories } from './features/repositories.ts';
import { isRole, type Role, ROLES } from './features/users/roles.ts';
import { createUser, resetPassword } from './features/users/user-admin.ts';
import { ADMIN_USAGE } from './admin-usage.ts';
import { loadSecretKey, SecretBox } from './shared/secret-box.ts';

export interface AdminIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export async function admin(args: string[], io: AdminIo): Promise<number> {
  const [action, ...rest] = args;
  let values: {
    username?: string;
    workspace?: string;
    role?: string;
    'server-admin'?: boolean;
    config?: string;
  };
  try {
    if (action !== 'reset-password' && action !== 'create-user') {
      throw new Error(
        `admin needs an action: "reset-password" or "create-user"${action ? `, not "${action}"` : ''}`,
      );
    }
    ({ values } = parseArgs({
      args: rest,
      options: {
        username: { type: 'string' },
        workspace: { type: 'string' },
        role: { type: 'string', default: 'administrator' },
        'server-admin': { type: 'boolean', default: false },
        config: { type: 'string', short: 'c' },
      },
    }));
    if (action === 'create-user' && !values.username) throw new Error('create-user needs --username');
    if (!isRole(values.role))
      throw new Error(`--role must be one of ${ROLES.join(', ')}, not "${values.role}"`);
  } catch (error) {
    io.err(`${(error as Error).message}\n\nUsage:\n${ADMIN_USAGE}`);
    return 2;
  }

  let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
  try {
    const { config } = loadConfig({
      env: io.env ?? process.env,
      cwd: process.cwd(),
      configFile: values.config,
    });
    database = await openDatabase(config.database);
    const secrets = new SecretBox(loadSecretKey(config.auth.secretKey, config.dataDir));
    const repos = new Repositories(database.db, secrets);
    const now = Date.now();
    const options = { passwordHashCost: config.auth.passwordHashCost, now };
    if (action === 'reset-password') {
      const username = values.username ?? config.admin.username;
      const password = await resetPassword(repos, username, options);
      io.out(`New password for "${username}": ${password}`);
      io.out('It is shown only this once: keep it somewhere safe.');
    } else {
      const { defaultWorkspaceId } = await bootstrap(repos, {
        jwtSecret: config.auth.jwtSecret,
        secretKeyFingerprint: secrets.fingerprint(),
        now,
      });
      const workspaceId = values.workspace ?? defaultWorkspaceId;
      const role = values.role as Role;
      const serverAdmin = values['server-admin'] === true;
      const created = await createUser(
        repos,
        { workspaceId, username: values.username!, role, serverAdmin },
        options,
      );
      io.out(
        `Created the ${serverAdmin ? 'server administrator' : role} "${values.username}" in workspace ${workspaceId}.`,
      );
      io.out(`Password: ${created.password}`);
      io.out('It is shown only this once: keep it somewhere safe.');
    }
    return 0;
  } catch (error) {
    const reported = reportOperatorError(error, io.err);
    if (reported !== undefined) return reported;
    throw error;
  } finally {
    await database?.close();
  }
}
