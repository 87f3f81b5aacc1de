/**
 * Sessions (issue 13, docs/accounts.md "Sessions"): a login opens one; each access token names it
 * (`sid`), and every request checks it, so a session can end before its tokens expire.
 *
 * - A session lasts at most SKYVAULT_SESSION_LIFETIME (30 days by default) from its login: a refresh
 *   hands out a token that never outlives it, then the user logs in again. Long enough that a Pilot in
 *   the field is not thrown out mid-mission (Pilot 2 leaves the cloud on 401, docs/protocol.md §10.52).
 * - It ends at once at logout, and for every session of a user whose password changes (but the session
 *   that changed it), who is disabled or removed, or whose workspace is being deleted; and a session
 *   from a client the user's role may no longer use (roles.ts `mayLogInFrom`) ends with the change.
 * - Each request reads the session with its user's role and state in one query. The answer is kept for
 *   CHECK_CACHE_MS so that a busy client costs one query per few seconds, not one per request; this
 *   instance forgets it at once when it ends a session itself, other instances within CHECK_CACHE_MS.
 *   A role change applies within the same delay.
 */
import { randomUUID } from 'node:crypto';
import type { UserType } from '../../db/schema.ts';
import { AppError } from '../../shared/app-error.ts';
import { mayLogInFrom, type Role } from '../users/roles.ts';
import type { SessionRepo, SessionState } from './session.repo.ts';
import type { TokenClaims, TokenService } from './token.service.ts';

/** Who calls: the token's claims, with the user's current role. */
export interface Caller extends TokenClaims {
  role: Role;
  serverAdmin: boolean;
}

export interface SessionUser {
  id: string;
  username: string;
  userType: UserType;
  workspaceId: string;
}

export interface SessionServiceOptions {
  repo: SessionRepo;
  tokens: TokenService;
  lifetimeSeconds: number;
  now?: () => number;
  /** How long a session check is reused; CHECK_CACHE_MS unless set (tests set 0). */
  cacheMs?: number;
}

export const CHECK_CACHE_MS = 5_000;
const CACHE_LIMIT = 20_000;

export class SessionService {
  private readonly repo: SessionRepo;
  private readonly tokens: TokenService;
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly checked = new Map<string, { state: SessionState | undefined; until: number }>();

  constructor(private readonly options: SessionServiceOptions) {
    this.repo = options.repo;
    this.tokens = options.tokens;
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? CHECK_CACHE_MS;
  }

  /** Opens a session for a user who just proved who they are; returns its first token. */
  async open(user: SessionUser, client: UserType): Promise<{ token: string; expiresAt: number }> {
    const now = this.now();
    const sessionId = randomUUID();
    const expiresAt = now + this.options.lifetimeSeconds * 1000;
    await this.repo.deleteExpired(now);
    await this.repo.insert({
      id: sessionId,
      userId: user.id,
      client,
      createdAt: now,
      expiresAt,
      refreshedAt: now,
    });
    return this.tokens.issue(
      {
        userId: user.id,
        username: user.username,
        userType: user.userType,
        workspaceId: user.workspaceId,
        sessionId,
      },
      expiresAt / 1000,
    );
  }

  /** The caller behind a valid token of a live session; 401 (TokenMissing/Invalid/Expired, SessionEnded) otherwise. */
  async authenticate(token: string | undefined): Promise<Caller> {
    const claims = await this.tokens.verify(token);
    const state = await this.live(claims, true);
    return { ...claims, role: state.role, serverAdmin: state.serverAdmin };
  }

  /**
   * A new token of the same session for a valid or recently expired one (token/refresh), if the session
   * is still live; never valid past the session's end.
   */
  async renew(token: string | undefined): Promise<{ claims: TokenClaims; token: string; expiresAt: number }> {
    const claims = await this.tokens.verifyForRefresh(token);
    const state = await this.live(claims, false);
    await this.repo.touch(claims.sessionId, this.now());
    const issued = await this.tokens.issue(
      {
        userId: claims.userId,
        username: claims.username,
        userType: claims.userType as UserType,
        workspaceId: claims.workspaceId,
        sessionId: claims.sessionId,
      },
      state.expiresAt / 1000,
    );
    return { claims, ...issued };
  }

  /** Logout: ends this session. */
  async end(sessionId: string): Promise<void> {
    await this.repo.delete(sessionId);
    this.checked.delete(sessionId);
  }

  /** Ends every session of a user (but `except`, the one asking); returns how many ended. */
  async endAllOf(userId: string, except?: string): Promise<number> {
    const ended = await this.repo.deleteByUser(userId, except);
    for (const id of ended) this.checked.delete(id);
    // A disabled user's or deleted workspace's sessions may still be cached with the old state.
    for (const [id, entry] of this.checked)
      if (entry.state?.userId === userId && id !== except) this.checked.delete(id);
    return ended.length;
  }

  /** Forgets cached checks of a user's sessions (their role or state changed). */
  forgetUser(userId: string): void {
    for (const [id, entry] of this.checked) if (entry.state?.userId === userId) this.checked.delete(id);
  }

  /** Forgets every cached check (a workspace is being deleted). */
  forgetAll(): void {
    this.checked.clear();
  }

  /** How many sessions each user has open. */
  openCounts(userIds: readonly string[]): Promise<Map<string, number>> {
    return this.repo.countByUser(userIds);
  }

  private async live(claims: TokenClaims, cached: boolean): Promise<SessionState> {
    const now = this.now();
    let state: SessionState | undefined;
    const hit = cached ? this.checked.get(claims.sessionId) : undefined;
    if (hit && hit.until > now) {
      state = hit.state;
    } else {
      state = await this.repo.state(claims.sessionId);
      if (this.cacheMs > 0) {
        if (this.checked.size >= CACHE_LIMIT) this.checked.clear();
        this.checked.set(claims.sessionId, { state, until: now + this.cacheMs });
      }
    }
    if (
      !state ||
      state.userId !== claims.userId ||
      state.workspaceId !== claims.workspaceId ||
      state.userDisabled ||
      state.workspaceDeleting ||
      // A role changed to one that may not use this client (an operator made a device account keeps no
      // web session).
      !mayLogInFrom(state.role, state.client) ||
      state.expiresAt <= now
    ) {
      throw new AppError('SessionEnded');
    }
    return state;
  }
}
