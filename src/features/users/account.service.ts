/**
 * A workspace's accounts as its administrators (and server administrators) manage them (issue 13,
 * docs/accounts.md): create users with a role, change a role, disable or enable, reset a password,
 * rotate MQTT credentials, remove; regenerate the workspace's dock bind code. Passwords are generated
 * (unless given) and returned once, to be shown; only their hashes are stored.
 *
 * What ends at once: a user's sessions when they are disabled, removed or their password is reset (not
 * the session of an administrator resetting their own); the MQTT connections of an account that is
 * disabled, removed, made a viewer, or whose MQTT password is rotated (`onMqttAccountRevoked`).
 * An administrator cannot demote, disable or remove themself, so a workspace is never left without the
 * administrator who was managing it. Only a server administrator may change a server administrator's
 * account: a reset password is answered to whoever resets it, so a workspace administrator who could
 * reset one would log in as them and manage every workspace.
 */
import { isUniqueViolation } from '../../db/errors.ts';
import { AppError } from '../../shared/app-error.ts';
import { newId, randomSecret, readableCode } from '../../shared/ids.ts';
import type { PasswordHasher } from '../auth/password-hasher.ts';
import type { Workspace, WorkspaceRepo } from '../workspaces/workspace.repo.ts';
import { hashPassword } from './password.ts';
import { hasMqttAccess, type Role, userTypeOf } from './roles.ts';
import type { User, UserListItem, UserRepo } from './user.repo.ts';

/** Who acts: a user id and session (to spare their own), or the command line (no one). */
export interface Actor {
  userId: string;
  sessionId: string;
  /** Whether the actor is a server administrator (who alone may change another one's account). */
  serverAdmin: boolean;
}

/** What ends a user's sessions (SessionService; the command line's bare repository). */
export interface SessionEnder {
  endAllOf(userId: string, except?: string): Promise<number>;
  forgetUser(userId: string): void;
}

export interface AccountServiceOptions {
  users: UserRepo;
  workspaces: WorkspaceRepo;
  sessions: SessionEnder;
  /** Where hashes run in the server (off libuv's threads); the command line hashes in place. */
  hasher?: PasswordHasher | undefined;
  passwordHashCost: number;
  /** An MQTT account may no longer be used as it was: its live connections are closed. */
  onMqttAccountRevoked?: ((mqttUsername: string) => void) | undefined;
  now?: () => number;
}

export interface NewUser {
  username: string;
  role: Role;
  /** undefined = generate one (returned). */
  password?: string | undefined;
}

export interface UserChange {
  role?: Role | undefined;
  disabled?: boolean | undefined;
}

/** Shortest password accepted when one is chosen rather than generated. */
export const MIN_PASSWORD_LENGTH = 10;

export class AccountService {
  private readonly now: () => number;

  constructor(private readonly options: AccountServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  async list(workspaceId: string): Promise<UserListItem[]> {
    await this.workspace(workspaceId);
    const { items } = await this.options.users.listByWorkspace(workspaceId, { offset: 0, limit: 10_000 });
    return items;
  }

  /**
   * Creates a user with its own MQTT account (named as the user); returns it with its password.
   * `options.serverAdmin` is for the command line only (`skyvault admin create-user --server-admin`): it
   * is a separate argument so that no request body can ever carry it here.
   */
  async create(
    workspaceId: string,
    request: NewUser,
    options: { serverAdmin?: boolean } = {},
  ): Promise<{ user: User; password: string }> {
    await this.workspace(workspaceId);
    const password = request.password ?? readableCode(16);
    checkPassword(password);
    const now = this.now();
    const user: User = {
      id: newId(),
      workspaceId,
      username: request.username,
      passwordHash: await this.hash(password),
      userType: userTypeOf(request.role),
      mqttUsername: request.username,
      mqttPassword: randomSecret(18),
      role: request.role,
      serverAdmin: options.serverAdmin === true ? 1 : 0,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.options.users.insert(user);
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('UsernameTaken');
      throw error;
    }
    return { user, password };
  }

  /** Changes a user's role and/or enabled state. */
  async update(
    actor: Actor | undefined,
    workspaceId: string,
    userId: string,
    change: UserChange,
  ): Promise<User> {
    const user = await this.member(workspaceId, userId, actor);
    const demoted = change.role !== undefined && change.role !== user.role && user.role === 'administrator';
    if (actor?.userId === userId && (demoted || change.disabled === true)) throw new AppError('NotYourself');
    const now = this.now();
    const fields: Partial<Pick<User, 'role' | 'userType' | 'disabledAt'>> = {};
    if (change.role !== undefined && change.role !== user.role) {
      fields.role = change.role;
      fields.userType = userTypeOf(change.role);
    }
    if (change.disabled !== undefined && change.disabled !== (user.disabledAt !== null)) {
      fields.disabledAt = change.disabled ? now : null;
    }
    if (Object.keys(fields).length === 0) return user;
    await this.options.users.update(userId, fields, now);
    const updated = { ...user, ...fields };
    if (fields.disabledAt) await this.options.sessions.endAllOf(userId);
    this.options.sessions.forgetUser(userId);
    if (updated.disabledAt !== null || !hasMqttAccess(updated.role)) this.revokeMqtt(user.mqttUsername);
    return updated;
  }

  /** A new generated password; every session of the user ends (but the actor's own). */
  async resetPassword(actor: Actor | undefined, workspaceId: string, userId: string): Promise<string> {
    const user = await this.member(workspaceId, userId, actor);
    const password = readableCode(16);
    await this.options.users.setPasswordHash(user.id, await this.hash(password), this.now());
    await this.options.sessions.endAllOf(user.id, actor?.userId === userId ? actor.sessionId : undefined);
    return password;
  }

  /** A new MQTT password for the user's device account; connections made with the old one are closed. */
  async rotateMqttPassword(
    actor: Actor | undefined,
    workspaceId: string,
    userId: string,
  ): Promise<{ username: string; password: string }> {
    const user = await this.member(workspaceId, userId, actor);
    const password = randomSecret(18);
    await this.options.users.setMqttPassword(user.id, password, this.now());
    this.revokeMqtt(user.mqttUsername);
    return { username: user.mqttUsername, password };
  }

  async remove(actor: Actor | undefined, workspaceId: string, userId: string): Promise<void> {
    const user = await this.member(workspaceId, userId, actor);
    if (actor?.userId === userId) throw new AppError('NotYourself');
    await this.options.sessions.endAllOf(userId);
    await this.options.users.delete(userId);
    this.revokeMqtt(user.mqttUsername);
  }

  /** A new bind code for the workspace's docks; the old one stops working. */
  async regenerateBindCode(workspaceId: string): Promise<Workspace> {
    const workspace = await this.workspace(workspaceId);
    const bindCode = readableCode(6);
    await this.options.workspaces.update(workspaceId, { bindCode }, this.now());
    return { ...workspace, bindCode };
  }

  private async workspace(workspaceId: string): Promise<Workspace> {
    const workspace = await this.options.workspaces.findById(workspaceId);
    if (!workspace || workspace.deletingAt !== null) throw new AppError('WorkspaceMissing');
    return workspace;
  }

  /** A user of the workspace whom the actor may change (a server administrator: by another one only). */
  private async member(workspaceId: string, userId: string, actor: Actor | undefined): Promise<User> {
    await this.workspace(workspaceId);
    const user = await this.options.users.findById(userId);
    if (!user || user.workspaceId !== workspaceId) throw new AppError('UserNotInWorkspace');
    if (actor && !actor.serverAdmin && Number(user.serverAdmin) === 1) {
      throw new AppError(
        'RoleForbidden',
        "Only a server administrator may change a server administrator's account.",
      );
    }
    return user;
  }

  private hash(password: string): Promise<string> {
    const cost = this.options.passwordHashCost;
    return this.options.hasher ? this.options.hasher.hash(password, cost) : hashPassword(password, { cost });
  }

  private revokeMqtt(mqttUsername: string): void {
    this.options.onMqttAccountRevoked?.(mqttUsername);
  }
}

/** A chosen password must be long enough; generated ones are. */
export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AppError('BadRequest', `A password needs at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
}
