/**
 * Temporary credentials of the embedded store, self-contained so that any Skyvault instance can verify
 * them without a database lookup (issue 3): the session token carries the access key id, the scope
 * (a key prefix or one exact key), the permitted actions and the expiry, authenticated by an HMAC with
 * the server's storage key. The secret access key is derived from the token with the same key, so it is
 * never stored anywhere and a changed token derives a different secret.
 *
 * Token: `sv1.<base64url JSON claims>.<base64url HMAC-SHA256>`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StorageAction } from '../provider.ts';

export interface CredentialScope {
  /** Keys must start with `prefix/` (prefix '' = the whole bucket). */
  prefix?: string;
  /** Exactly this key (presigned downloads). */
  key?: string;
}

export interface CredentialClaims {
  accessKeyId: string;
  scope: CredentialScope;
  actions: StorageAction[];
  /** Epoch seconds. */
  expiresAt: number;
}

export interface IssuedCredentials extends CredentialClaims {
  secretAccessKey: string;
  sessionToken: string;
}

export type TokenProblem = 'malformed' | 'forged' | 'expired' | 'wrong-key';

const ACTION_LETTERS: Record<StorageAction, string> = { get: 'r', put: 'w', list: 'l', delete: 'd' };

export class CredentialAuthority {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHmac('sha256', 'skyvault-storage-credentials').update(secret).digest();
  }

  issue(scope: CredentialScope, actions: StorageAction[], expiresAt: number): IssuedCredentials {
    const accessKeyId = `SV${randomBytes(12).toString('hex').toUpperCase()}`;
    const payload = Buffer.from(
      JSON.stringify({
        ak: accessKeyId,
        ...(scope.key !== undefined ? { k: scope.key } : { p: scope.prefix ?? '' }),
        a: actions.map((a) => ACTION_LETTERS[a]).join(''),
        e: expiresAt,
      }),
    ).toString('base64url');
    const sessionToken = `sv1.${payload}.${this.mac(payload)}`;
    return {
      accessKeyId,
      scope,
      actions,
      expiresAt,
      sessionToken,
      secretAccessKey: this.secretFor(sessionToken),
    };
  }

  /**
   * Checks a token presented with `accessKeyId` at `nowSeconds`. Returns the claims and the derived secret,
   * or the reason it is refused.
   */
  verify(
    accessKeyId: string,
    sessionToken: string | undefined,
    nowSeconds: number,
  ): { claims: CredentialClaims; secretAccessKey: string } | { problem: TokenProblem } {
    if (!sessionToken) return { problem: 'malformed' };
    const [version, payload, mac] = sessionToken.split('.');
    if (version !== 'sv1' || !payload || !mac) return { problem: 'malformed' };
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { problem: 'forged' };
    let raw: { ak?: unknown; p?: unknown; k?: unknown; a?: unknown; e?: unknown };
    try {
      raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { problem: 'malformed' };
    }
    if (typeof raw.ak !== 'string' || typeof raw.a !== 'string' || typeof raw.e !== 'number') {
      return { problem: 'malformed' };
    }
    if (raw.ak !== accessKeyId) return { problem: 'wrong-key' };
    if (raw.e <= nowSeconds) return { problem: 'expired' };
    const actions = (Object.keys(ACTION_LETTERS) as StorageAction[]).filter((a) =>
      (raw.a as string).includes(ACTION_LETTERS[a]),
    );
    const scope: CredentialScope =
      typeof raw.k === 'string' ? { key: raw.k } : { prefix: typeof raw.p === 'string' ? raw.p : '' };
    return {
      claims: { accessKeyId: raw.ak, scope, actions, expiresAt: raw.e },
      secretAccessKey: this.secretFor(sessionToken),
    };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(`token\0${payload}`).digest('base64url');
  }

  private secretFor(sessionToken: string): string {
    return createHmac('sha256', this.key).update(`secret\0${sessionToken}`).digest('base64url').slice(0, 40);
  }
}

/** Whether `claims` allow `action` on `key` (or, for listing, on every key under `key` as a prefix). */
export function allows(claims: CredentialClaims, action: StorageAction, key: string): boolean {
  if (!claims.actions.includes(action)) return false;
  if (claims.scope.key !== undefined) return action !== 'list' && key === claims.scope.key;
  const prefix = claims.scope.prefix ?? '';
  if (prefix === '') return true;
  if (action === 'list') return key === prefix || key.startsWith(`${prefix}/`);
  return key.startsWith(`${prefix}/`);
}
