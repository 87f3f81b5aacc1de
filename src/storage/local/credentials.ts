/**
 * Temporary credentials of the embedded store, self-contained so that any Skyvault instance can verify
 * them without a database lookup (issue 3), authenticated by an HMAC with the server's storage key. The
 * secret access key is derived from the token with the same key, so it is never stored anywhere and a
 * changed token derives a different secret. Two kinds:
 *
 * - Scoped credentials (issued by Skyvault itself for devices and downloads):
 *   `sv1.<base64url JSON {ak, p|k, a, e}>.<base64url HMAC-SHA256("token\0" + payload)>`: the access key
 *   id, the scope (a key prefix `p` or one exact key `k`), the permitted actions as letters and the expiry.
 * - STS sessions (issued by `AssumeRole`, AWS's in sts.ts or Aliyun's in aliyun-sts.ts, to the holder of
 *   the root credentials; the same kind either way, so they sign with AWS SigV4 and OSS V4 alike):
 *   `sv2.<base64url JSON {ak, pa, e, sp?}>.<base64url HMAC-SHA256("session\0" + payload)>`: the access
 *   key id, the parent (root) access key, the expiry and the session policy, the caller's minified policy
 *   document embedded as a JSON value (not re-encoded: that keeps a 2 KiB policy a ~3 KiB token). Without
 *   `sp` the session has the parent's rights (MinIO: root-derived credentials without a session policy
 *   are root); with it, exactly the policy's (iam-policy.ts). The session is void once `pa` is no longer
 *   the configured root access key.
 *
 * The two MACs differ by their prefix, so a payload of one kind can never be passed off as the other.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StorageAction } from '../provider.ts';
import { type IamPolicy, PolicyError, validatePolicy } from './iam-policy.ts';

/** The store's long-term credentials (MinIO's root user): all rights on the bucket, and STS AssumeRole. */
export interface RootCredentials {
  accessKey: string;
  secretKey: string;
}

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

/** What an STS session token carries. */
export interface SessionClaims {
  accessKeyId: string;
  /** Access key of the root credentials that asked for the session. */
  parentAccessKey: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** The session policy; undefined = the parent's rights. */
  policy: IamPolicy | undefined;
}

export interface IssuedSession extends SessionClaims {
  secretAccessKey: string;
  sessionToken: string;
}

export type TokenProblem = 'malformed' | 'forged' | 'expired' | 'wrong-key';

export type VerifiedToken =
  | { kind: 'scoped'; claims: CredentialClaims; secretAccessKey: string }
  | { kind: 'session'; session: SessionClaims; secretAccessKey: string };

const ACTION_LETTERS: Record<StorageAction, string> = { get: 'r', put: 'w', list: 'l', delete: 'd' };

export class CredentialAuthority {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHmac('sha256', 'skyvault-storage-credentials').update(secret).digest();
  }

  issue(scope: CredentialScope, actions: StorageAction[], expiresAt: number): IssuedCredentials {
    const accessKeyId = newAccessKeyId();
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
   * An STS session for the root credentials `parentAccessKey`, with `policyDocument` (an IAM policy,
   * already validated and within the size limit, sts.ts / aliyun-sts.ts) as its session policy, or none.
   * `keyPrefix` starts the access key id (Aliyun's STS keys start with `STS.`).
   */
  issueSession(
    parentAccessKey: string,
    policyDocument: unknown,
    expiresAt: number,
    keyPrefix = '',
  ): IssuedSession {
    const accessKeyId = `${keyPrefix}${newAccessKeyId()}`;
    const payload = Buffer.from(
      JSON.stringify({
        ak: accessKeyId,
        pa: parentAccessKey,
        e: expiresAt,
        ...(policyDocument !== undefined ? { sp: policyDocument } : {}),
      }),
    ).toString('base64url');
    const sessionToken = `sv2.${payload}.${this.mac(payload, 'session')}`;
    return {
      accessKeyId,
      parentAccessKey,
      expiresAt,
      policy: policyDocument === undefined ? undefined : validatePolicy(policyDocument),
      sessionToken,
      secretAccessKey: this.secretFor(sessionToken),
    };
  }

  /**
   * Checks a token presented with `accessKeyId` at `nowSeconds`. Returns its claims and the derived
   * secret, or the reason it is refused.
   */
  verify(
    accessKeyId: string,
    sessionToken: string | undefined,
    nowSeconds: number,
  ): VerifiedToken | { problem: TokenProblem } {
    if (!sessionToken) return { problem: 'malformed' };
    const [version, payload, mac] = sessionToken.split('.');
    if (!payload || !mac) return { problem: 'malformed' };
    if (version === 'sv2') return this.verifySession(accessKeyId, sessionToken, payload, mac, nowSeconds);
    if (version !== 'sv1') return { problem: 'malformed' };
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
      kind: 'scoped',
      claims: { accessKeyId: raw.ak, scope, actions, expiresAt: raw.e },
      secretAccessKey: this.secretFor(sessionToken),
    };
  }

  private verifySession(
    accessKeyId: string,
    sessionToken: string,
    payload: string,
    mac: string,
    nowSeconds: number,
  ): VerifiedToken | { problem: TokenProblem } {
    const expected = Buffer.from(this.mac(payload, 'session'));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { problem: 'forged' };
    let raw: { ak?: unknown; pa?: unknown; e?: unknown; sp?: unknown };
    try {
      raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { problem: 'malformed' };
    }
    if (typeof raw.ak !== 'string' || typeof raw.pa !== 'string' || typeof raw.e !== 'number') {
      return { problem: 'malformed' };
    }
    if (raw.ak !== accessKeyId) return { problem: 'wrong-key' };
    if (raw.e <= nowSeconds) return { problem: 'expired' };
    let policy: IamPolicy | undefined;
    try {
      policy = raw.sp === undefined ? undefined : validatePolicy(raw.sp);
    } catch (error) {
      // Only a token this key signed gets here, and AssumeRole validated its policy: a policy refused now
      // means the evaluator changed since. Refuse the session rather than evaluate a policy differently.
      if (error instanceof PolicyError) return { problem: 'malformed' };
      throw error;
    }
    return {
      kind: 'session',
      session: { accessKeyId: raw.ak, parentAccessKey: raw.pa, expiresAt: raw.e, policy },
      secretAccessKey: this.secretFor(sessionToken),
    };
  }

  private mac(payload: string, kind: 'token' | 'session' = 'token'): string {
    return createHmac('sha256', this.key).update(`${kind}\0${payload}`).digest('base64url');
  }

  private secretFor(sessionToken: string): string {
    return createHmac('sha256', this.key).update(`secret\0${sessionToken}`).digest('base64url').slice(0, 40);
  }
}

function newAccessKeyId(): string {
  return `SV${randomBytes(12).toString('hex').toUpperCase()}`;
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
