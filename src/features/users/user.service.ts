/**
 * Login, token refresh and the current user: the rules behind the DJI `manage` login endpoints
 * (docs/protocol.md §7.1). Transport-free: returns domain values, throws AppError.
 */
import { timingSafeEqual } from 'node:crypto';
import type { UserType } from '../../db/schema.ts';
import { AppError } from '../../shared/app-error.ts';
import type { LoginLimiter } from '../auth/login-limiter.ts';
import type { PasswordHasher } from '../auth/password-hasher.ts';
import type { Caller, SessionService } from '../auth/session.service.ts';
import type { TokenClaims } from '../auth/token.service.ts';
import type { Workspace, WorkspaceRepo } from '../workspaces/workspace.repo.ts';
import { hashPassword, unusablePasswordHash, verifyPassword } from './password.ts';
import { checkPassword } from './account.service.ts';
import { allows, hasMqttAccess, mayLogInFrom } from './roles.ts';
import type { User, UserListItem, UserRepo } from './user.repo.ts';

export interface Session {
  user: User;
  workspace: Workspace;
  accessToken: string;
  /** Epoch seconds. */
  expiresAt: number;
}

export interface Page {
  page: number;
  pageSize: number;
}

export class UserService {
  private readonly users: UserRepo;
  private readonly workspaces: WorkspaceRepo;

  private readonly sessions: SessionService;
  private readonly passwordHashCost: number;
  /** Compared against when the username is unknown: the same work as a real account's hash. */
  private readonly unknownUserHash: string;
  /** Where login hashes run (off libuv's threadpool, bounded); without one, password.ts's default. */
  private readonly hasher: PasswordHasher | undefined;
  /** Login rate limits per account and per address; without one, none. */
  private readonly limiter: LoginLimiter | undefined;

  constructor(options: {
    users: UserRepo;
    workspaces: WorkspaceRepo;
    sessions: SessionService;
    /** scrypt cost (log2 N) of new password hashes. */
    passwordHashCost: number;
    hasher?: PasswordHasher;
    limiter?: LoginLimiter;
  }) {
    this.users = options.users;
    this.workspaces = options.workspaces;
    this.sessions = options.sessions;
    this.passwordHashCost = options.passwordHashCost;
    this.unknownUserHash = unusablePasswordHash(options.passwordHashCost);
    this.hasher = options.hasher;
    this.limiter = options.limiter;
  }

  /**
   * Checks the password and opens a session. `flag` is the client (1 web, 2 Pilot); unlike DJI's demo
   * administrators and operators may log in from either client, so one account works in the browser and
   * in Pilot 2; viewers only from the web, device accounts only from Pilot 2 (roles.ts). Unknown user
   * and wrong password give the same answer, after the same amount of work; only then are a disabled
   * account or a client the role may not use told apart.
   * `from.address` is the client's address, for the per-address limit (LoginLimiter): TooManyLogins
   * before any hashing when a limit is reached, PasswordCheckBusy when too many hashes wait already.
   */
  async login(
    username: string,
    password: string,
    flag: UserType,
    from: { address: string } = { address: '' },
  ): Promise<Session> {
    const attempt = this.limiter?.admit(username, from.address);
    let outcome: 'success' | 'failure' | 'unchecked' = 'unchecked';
    try {
      this.hasher?.checkRoom({ priority: attempt?.known ?? false });
      const user = await this.users.findByUsername(username);
      const stored = user?.passwordHash ?? this.unknownUserHash;
      const valid = this.hasher
        ? await this.hasher.verify(password, stored, { priority: attempt?.known ?? false })
        : await verifyPassword(password, stored);
      outcome = user && valid ? 'success' : 'failure';
      if (!user || !valid) throw new AppError('InvalidCredentials');
      if (user.disabledAt !== null) throw new AppError('AccountDisabled');
      if (!mayLogInFrom(user.role, flag)) throw new AppError('ClientNotAllowed');
      const workspace = await this.liveWorkspace(user.workspaceId);
      const { token, expiresAt } = await this.sessions.open(user, flag);
      return { user, workspace, accessToken: token, expiresAt };
    } finally {
      attempt?.settle(outcome);
    }
  }

  /** A new token of the same session for the holder of a valid (or recently expired) one. */
  async refresh(token: string | undefined): Promise<Session> {
    const renewed = await this.sessions.renew(token);
    const user = await this.users.findById(renewed.claims.userId);
    if (!user) throw new AppError('SessionEnded');
    const workspace = await this.liveWorkspace(user.workspaceId);
    return { user, workspace, accessToken: renewed.token, expiresAt: renewed.expiresAt };
  }

  /** Logout: ends the caller's session (its tokens stop working at once on this instance). */
  async logout(caller: Caller): Promise<void> {
    await this.sessions.end(caller.sessionId);
  }

  /**
   * The caller changes their own password, proving the current one; every other session of theirs ends
   * (a stolen token stops working), the one asking stays.
   */
  async changePassword(
    caller: Caller,
    current: string,
    next: string,
    from: { address: string } = { address: '' },
  ): Promise<{ endedSessions: number }> {
    const user = await this.users.findById(caller.userId);
    if (!user) throw new AppError('SessionEnded');
    checkPassword(next);
    // Guessing the current password with a stolen token is limited like guessing it at login.
    const attempt = this.limiter?.admit(user.username, from.address);
    let outcome: 'success' | 'failure' | 'unchecked' = 'unchecked';
    try {
      this.hasher?.checkRoom({ priority: attempt?.known ?? false });
      const valid = this.hasher
        ? await this.hasher.verify(current, user.passwordHash, { priority: attempt?.known ?? false })
        : await verifyPassword(current, user.passwordHash);
      outcome = valid ? 'success' : 'failure';
      if (!valid) throw new AppError('WrongPassword');
    } finally {
      attempt?.settle(outcome);
    }
    const hash = this.hasher
      ? await this.hasher.hash(next, this.passwordHashCost)
      : await hashPassword(next, { cost: this.passwordHashCost });
    await this.users.setPasswordHash(user.id, hash, Date.now());
    return { endedSessions: await this.sessions.endAllOf(user.id, caller.sessionId) };
  }

  /**
   * The MQTT account behind a device connection: the user whose MQTT credentials these are (the
   * credentials Pilot's `thing` module and docks log in with), or undefined. A constant-time comparison
   * and no hashing (MQTT passwords are generated secrets, shown to administrators), so a flood of MQTT
   * CONNECTs costs no scrypt; if these are ever hashed, verify them through the PasswordHasher and limit
   * them like logins.
   */
  async mqttAccount(
    username: string,
    password: Buffer,
  ): Promise<{ username: string; workspaceId: string } | undefined> {
    const user = await this.users.findByMqttUsername(username);
    if (!user || !(await this.mayUseMqtt(user))) return undefined;
    const expected = Buffer.from(user.mqttPassword, 'utf8');
    if (expected.length !== password.length || !timingSafeEqual(expected, password)) return undefined;
    return { username: user.mqttUsername, workspaceId: user.workspaceId };
  }

  /**
   * The MQTT account of this MQTT username, without checking a password (the broker already did); none
   * once the account may no longer use MQTT (disabled, a viewer, its workspace being deleted).
   */
  async mqttAccountNamed(username: string): Promise<{ username: string; workspaceId: string } | undefined> {
    const user = await this.users.findByMqttUsername(username);
    return user && (await this.mayUseMqtt(user))
      ? { username: user.mqttUsername, workspaceId: user.workspaceId }
      : undefined;
  }

  private async mayUseMqtt(user: User): Promise<boolean> {
    if (user.disabledAt !== null || !hasMqttAccess(user.role)) return false;
    const workspace = await this.workspaces.findById(user.workspaceId);
    return workspace !== undefined && workspace.deletingAt === null;
  }

  async current(claims: TokenClaims): Promise<{ user: User; workspace: Workspace }> {
    const user = await this.users.findById(claims.userId);
    if (!user) throw new AppError('UserNotFound');
    const workspace = await this.workspaces.findById(user.workspaceId);
    if (!workspace) throw new AppError('WorkspaceNotFound');
    return { user, workspace };
  }

  /** The user's device account (the MQTT credentials a dock is configured with): deviceAccountOf. */
  deviceAccount(user: User): { username: string; password: string | null } {
    return deviceAccountOf(user);
  }

  async currentWorkspace(claims: TokenClaims): Promise<Workspace> {
    const workspace = await this.workspaces.findById(claims.workspaceId);
    if (!workspace) throw new AppError('WorkspaceNotFound');
    return workspace;
  }

  /**
   * One page of the workspace's users (administrators only, by the route's permission), with their MQTT
   * passwords, which DJI's members page shows.
   */
  async list(
    caller: Caller,
    workspaceId: string,
    page: Page,
  ): Promise<{ items: UserListItem[]; total: number; showMqttPasswords: boolean }> {
    const { items, total } = await this.users.listByWorkspace(workspaceId, {
      offset: (page.page - 1) * page.pageSize,
      limit: page.pageSize,
    });
    return { items, total, showMqttPasswords: allows(caller, 'users.manage') };
  }

  private async liveWorkspace(workspaceId: string): Promise<Workspace> {
    const workspace = await this.workspaces.findById(workspaceId);
    if (!workspace) throw new AppError('WorkspaceNotFound');
    if (workspace.deletingAt !== null)
      throw new AppError('AccountDisabled', 'This workspace is being deleted.');
    return workspace;
  }
}

/**
 * A user's MQTT credentials as they are shown to them (login, users/current, the overview): the password
 * only for a role with MQTT access, none for a viewer.
 */
export function deviceAccountOf(user: User): { username: string; password: string | null } {
  return { username: user.mqttUsername, password: hasMqttAccess(user.role) ? user.mqttPassword : null };
}
