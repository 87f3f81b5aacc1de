/**
 * Access tokens: HS256 JWTs sent by clients in the `x-auth-token` header (the DJI convention,
 * docs/protocol.md §7.1). Verification needs no database, so every instance can check any token.
 *
 * Beside the standard claims the token carries DJI's custom claims as strings (`id`, `username`,
 * `user_type`, `workspace_id`), the shape DJI's demo uses, so tools that decode demo tokens work.
 * Unlike the demo, token/refresh verifies the signature; only the expiry is tolerated, for a window.
 *
 * fast-jwt (Fastify's JWT library) checks signature and issuer synchronously with node:crypto and
 * caches verified tokens: this runs on every request, and WebCrypto-based verification cost several
 * times more (bench/pilot-api). Expiry is checked here against our own clock.
 */
import { randomUUID } from 'node:crypto';
import { createSigner, createVerifier, TokenError } from 'fast-jwt';
import { AppError } from '../../shared/app-error.ts';

export interface TokenClaims {
  userId: string;
  username: string;
  userType: number;
  workspaceId: string;
  /** The login this token belongs to (`sid`, features/auth/session.service.ts): ended there, refused here. */
  sessionId: string;
  /** Expiry, epoch seconds. */
  expiresAt: number;
}

export interface TokenServiceOptions {
  secret: string;
  ttlSeconds: number;
  refreshWindowSeconds: number;
  /** Current time in epoch milliseconds (tests move it). */
  now?: () => number;
}

const ISSUER = 'skyvault';

export class TokenService {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly decode: (token: string) => Record<string, unknown>;
  private readonly now: () => number;

  constructor(private readonly options: TokenServiceOptions) {
    this.now = options.now ?? Date.now;
    this.sign = createSigner({ key: options.secret, algorithm: 'HS256', iss: ISSUER, noTimestamp: true });
    this.decode = createVerifier({
      key: options.secret,
      algorithms: ['HS256'],
      allowedIss: ISSUER,
      ignoreExpiration: true,
      ignoreNotBefore: true,
      cache: 10_000,
    });
  }

  /** A token for these claims, valid for the configured lifetime but never past `notAfter` (epoch s). */
  async issue(
    claims: Omit<TokenClaims, 'expiresAt'>,
    notAfter = Number.POSITIVE_INFINITY,
  ): Promise<{ token: string; expiresAt: number }> {
    const issuedAt = Math.floor(this.now() / 1000);
    const expiresAt = Math.min(issuedAt + this.options.ttlSeconds, Math.floor(notAfter));
    const token = this.sign({
      sub: claims.userId,
      iat: issuedAt,
      nbf: issuedAt,
      exp: expiresAt,
      id: claims.userId,
      username: claims.username,
      user_type: String(claims.userType),
      workspace_id: claims.workspaceId,
      sid: claims.sessionId,
      // Unique per token: a refresh in the same second as the login still hands out a new token.
      jti: randomUUID(),
    });
    return { token, expiresAt };
  }

  /** The claims of a valid, unexpired token; AppError TokenMissing / TokenInvalid / TokenExpired otherwise. */
  async verify(token: string | undefined): Promise<TokenClaims> {
    const claims = this.verifySignature(token);
    if (claims.expiresAt <= this.now() / 1000) throw new AppError('TokenExpired');
    return claims;
  }

  /** Like verify, but an expired token is accepted for `refreshWindowSeconds` after its expiry. */
  async verifyForRefresh(token: string | undefined): Promise<TokenClaims> {
    const claims = this.verifySignature(token);
    if (claims.expiresAt + this.options.refreshWindowSeconds <= this.now() / 1000)
      throw new AppError('TokenExpired');
    return claims;
  }

  private verifySignature(token: string | undefined): TokenClaims {
    if (!token) throw new AppError('TokenMissing');
    let payload: Record<string, unknown>;
    try {
      payload = this.decode(token);
    } catch (error) {
      throw new AppError('TokenInvalid', undefined, {
        cause: error instanceof TokenError ? error.code : error,
      });
    }
    const { sub, username, user_type: userType, workspace_id: workspaceId, sid, exp, nbf } = payload;
    if (
      typeof sub !== 'string' ||
      // Tokens from before sessions existed name none: their holder logs in again.
      typeof sid !== 'string' ||
      typeof username !== 'string' ||
      typeof workspaceId !== 'string' ||
      typeof exp !== 'number' ||
      (typeof nbf === 'number' && nbf > this.now() / 1000 + 60)
    ) {
      throw new AppError('TokenInvalid');
    }
    return { userId: sub, username, userType: Number(userType), workspaceId, sessionId: sid, expiresAt: exp };
  }
}
