/**
 * Login, token refresh and the current user: the rules behind the DJI `manage` login endpoints
 * (docs/protocol.md §7.1). Transport-free: returns domain values, throws AppError.
 */
import { timingSafeEqual } from 'node:crypto';
import type { UserType } from '../../db/schema.ts';
import { AppError } from '../../shared/app-error.ts';
import type { LoginLimiter } from '../auth/login-limiter.ts';
import type { PasswordHasher } from '../auth/password-hasher.ts';
import type { TokenClaims, TokenService } from '../auth/token.service.ts';
import type { Workspace, WorkspaceRepo } from '../workspaces/workspace.repo.ts';
import { unusablePasswordHash, verifyPassword } from './password.ts';
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

  private readonly tokens: TokenService;
  /** Compared against when the username is unknown: the same work as a real account's hash. */
  private readonly unknownUserHash: string;
  /** Where login hashes run (off libuv's threadpool, bounded); without one, password.ts's default. */
  private readonly hasher: PasswordHasher | undefined;
  /** Login rate limits per account and per address; without one, none. */
  private readonly limiter: LoginLimiter | undefined;

  constructor(options: {
    users: UserRepo;
    workspaces: WorkspaceRepo;
    tokens: TokenService;
    /** scrypt cost (log2 N) of new password hashes. */
    passwordHashCost: number;
    hasher?: PasswordHasher;
    limiter?: LoginLimiter;
  }) {
    this.users = options.users;
    this.workspaces = options.workspaces;
    this.tokens = options.tokens;
    this.unknownUserHash = unusablePasswordHash(options.passwordHashCost);
    this.hasher = options.hasher;
    this.limiter = options.limiter;
  }

  /**
   * Checks the password and opens a session. `flag` is the client (1 web, 2 Pilot); unlike DJI's demo
   * any user may log in from either client, so one account works in the browser and in Pilot 2.
   * Unknown user and wrong password give the same answer, after the same amount of work.
   * `from.address` is the client's address, for the per-address limit (LoginLimiter): TooManyLogins
   * before any hashing when a limit is reached, PasswordCheckBusy when too many hashes wait already.
   */
  async login(
    username: string,
    password: string,
    _flag: UserType,
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
      return await this.openSession(user);
    } finally {
      attempt?.settle(outcome);
    }
  }

  /** A new token for the holder of a valid (or recently expired) one, if its user still exists. */
  async refresh(token: string | undefined): Promise<Session> {
    const claims = await this.tokens.verifyForRefresh(token);
    const user = await this.users.findById(claims.userId);
    if (!user || user.workspaceId !== claims.workspaceId) throw new AppError('TokenInvalid');
    return this.openSession(user);
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
    if (!user) return undefined;
    const expected = Buffer.from(user.mqttPassword, 'utf8');
    if (expected.length !== password.length || !timingSafeEqual(expected, password)) return undefined;
    return { username: user.mqttUsername, workspaceId: user.workspaceId };
  }

  /** The MQTT account of this MQTT username, without checking a password (the broker already did). */
  async mqttAccountNamed(username: string): Promise<{ username: string; workspaceId: string } | undefined> {
    const user = await this.users.findByMqttUsername(username);
    return user ? { username: user.mqttUsername, workspaceId: user.workspaceId } : undefined;
  }

  async current(claims: TokenClaims): Promise<{ user: User; workspace: Workspace }> {
    const user = await this.users.findById(claims.userId);
    if (!user) throw new AppError('UserNotFound');
    const workspace = await this.workspaces.findById(user.workspaceId);
    if (!workspace) throw new AppError('WorkspaceNotFound');
    return { user, workspace };
  }

  /**
   * The caller's device account (the MQTT credentials a dock is configured with), from the user that
   * `current` gave: its password only for an administrator, by the same rule as `list`.
   */
  deviceAccount(claims: TokenClaims, user: User): { username: string; password: string | null } {
    return { username: user.mqttUsername, password: isAdministrator(claims) ? user.mqttPassword : null };
  }

  async currentWorkspace(claims: TokenClaims): Promise<Workspace> {
    const workspace = await this.workspaces.findById(claims.workspaceId);
    if (!workspace) throw new AppError('WorkspaceNotFound');
    return workspace;
  }

  /**
   * One page of the workspace's users. Their MQTT passwords (which DJI's members page shows) only for
   * an administrator: until roles exist (issue 13), a web user (user_type 1); Pilot users never.
   */
  async list(
    caller: TokenClaims,
    workspaceId: string,
    page: Page,
  ): Promise<{ items: UserListItem[]; total: number; showMqttPasswords: boolean }> {
    const { items, total } = await this.users.listByWorkspace(workspaceId, {
      offset: (page.page - 1) * page.pageSize,
      limit: page.pageSize,
    });
    return { items, total, showMqttPasswords: isAdministrator(caller) };
  }

  private async openSession(user: User): Promise<Session> {
    const workspace = await this.workspaces.findById(user.workspaceId);
    if (!workspace) throw new AppError('WorkspaceNotFound');
    const { token, expiresAt } = await this.tokens.issue({
      userId: user.id,
      username: user.username,
      userType: user.userType,
      workspaceId: user.workspaceId,
    });
    return { user, workspace, accessToken: token, expiresAt };
  }
}

/** Who may see other users' MQTT credentials: web users (user_type 1) until roles exist. */
function isAdministrator(claims: TokenClaims): boolean {
  return claims.userType === WEB_USER;
}
const WEB_USER = 1;
