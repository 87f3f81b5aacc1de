/**
 * Access tokens: HS256 JWTs sent by clients in the `x-auth-token` header (the DJI convention,
 * dji-protocol.md §7.1). Verification needs no database, so every instance can check any token.
 *
 * Beside the standard claims the token carries DJI's custom claims as strings (`id`, `username`,
 * `user_type`, `workspace_id`), the shape DJI's demo uses, so tools that decode demo tokens work.
 * Unlike the demo, token/refresh verifies the signature; only the expiry is tolerated, for a window.
 */
import { errors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../../shared/app-error.ts';

export interface TokenClaims {
  userId: string;
  username: string;
  userType: number;
  workspaceId: string;
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
const ALGORITHM = 'HS256';

export class TokenService {
  private readonly key: Uint8Array;
  private readonly now: () => number;

  constructor(private readonly options: TokenServiceOptions) {
    this.key = new TextEncoder().encode(options.secret);
    this.now = options.now ?? Date.now;
  }

  async issue(claims: Omit<TokenClaims, 'expiresAt'>): Promise<{ token: string; expiresAt: number }> {
    const issuedAt = Math.floor(this.now() / 1000);
    const expiresAt = issuedAt + this.options.ttlSeconds;
    const token = await new SignJWT({
      id: claims.userId,
      username: claims.username,
      user_type: String(claims.userType),
      workspace_id: claims.workspaceId,
    })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(claims.userId)
      .setIssuedAt(issuedAt)
      .setNotBefore(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.key);
    return { token, expiresAt };
  }

  /** The claims of a valid, unexpired token; AppError TokenMissing / TokenInvalid / TokenExpired otherwise. */
  async verify(token: string | undefined): Promise<TokenClaims> {
    if (!token) throw new AppError('TokenMissing');
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        currentDate: new Date(this.now()),
      });
      return toClaims(payload);
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AppError('TokenExpired', undefined, { cause: error });
      if (error instanceof AppError) throw error;
      throw new AppError('TokenInvalid', undefined, { cause: error });
    }
  }

  /**
   * Like verify, but an expired token is accepted for `refreshWindowSeconds` after its expiry. The
   * signature is always checked: jose validates claims only after the signature.
   */
  async verifyForRefresh(token: string | undefined): Promise<TokenClaims> {
    try {
      return await this.verify(token);
    } catch (error) {
      if (!(error instanceof AppError) || error.kind !== 'TokenExpired') throw error;
      const payload = (error.cause as errors.JWTExpired).payload;
      const claims = toClaims(payload);
      if (claims.expiresAt + this.options.refreshWindowSeconds < this.now() / 1000) throw error;
      return claims;
    }
  }
}

function toClaims(payload: Record<string, unknown>): TokenClaims {
  const { sub, username, user_type: userType, workspace_id: workspaceId, exp } = payload;
  if (
    typeof sub !== 'string' ||
    typeof username !== 'string' ||
    typeof workspaceId !== 'string' ||
    typeof exp !== 'number'
  ) {
    throw new AppError('TokenInvalid');
  }
  return { userId: sub, username, userType: Number(userType), workspaceId, expiresAt: exp };
}
