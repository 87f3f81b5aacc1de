/**
 * Who may do what on the embedded S3 endpoint. A request is authenticated before anything else is read
 * (its body may be gigabytes, and `100 Continue` waits on this): sigv4.ts (AWS Signature V4) or, for a
 * request signed the Aliyun way, oss-auth.ts (OSS Signature V4) parses the signature and enforces clock
 * skew and presign expiry, the credentials yield the principal and its secret, and the signature must
 * match. The operation is then checked against what the principal may do, whichever dialect signed it.
 * Every refusal a client without valid credentials can provoke is decided here.
 *
 * Principals:
 * - `root`: the store's long-term credentials (`LocalStorageOptions.rootCredentials`) with no session
 *   token: everything in the bucket, as MinIO's root user.
 * - `scoped`: Skyvault's own temporary credentials (a key prefix or one key, and action letters;
 *   credentials.ts `sv1`), checked with `allows()` as they always were.
 * - `session`: STS AssumeRole credentials (credentials.ts `sv2`, from AWS-style sts.ts or Aliyun-style
 *   aliyun-sts.ts, whose RAM policy arrives translated to IAM), valid while their parent is still the
 *   configured root access key. With a session policy they may do exactly what it allows (MinIO: "even if
 *   the parent is the root account, it must be restricted by it"); without one, what root may do.
 */
import { timingSafeEqual } from 'node:crypto';
import type { StorageAction } from '../provider.ts';
import {
  allows,
  type CredentialAuthority,
  type CredentialClaims,
  type RootCredentials,
  type SessionClaims,
} from './credentials.ts';
import { type IamRequest, isAllowed } from './iam-policy.ts';
import { expectedOssSignature, isOssRequest, type OssAuth, parseOssAuth } from './oss-auth.ts';
import { S3Error } from './s3-errors.ts';
import { type IncomingRequestParts, parseAuth, type ParsedAuth, SignatureContext } from './sigv4.ts';

export type Principal =
  | { kind: 'root'; accessKeyId: string }
  | { kind: 'scoped'; claims: CredentialClaims }
  | { kind: 'session'; session: SessionClaims };

/** How a request is signed: AWS Signature V4, or Aliyun's OSS Signature V4. */
export type Dialect = 'aws' | 'oss';

export type Authenticated =
  | { dialect: 'aws'; auth: ParsedAuth; signature: SignatureContext; principal: Principal }
  | { dialect: 'oss'; auth: OssAuth; signature: undefined; principal: Principal };

/** Which verifier a request is for, by its shape (oss-auth.ts isOssRequest). */
export function dialectOf(parts: IncomingRequestParts): Dialect {
  return isOssRequest(parts) ? 'oss' : 'aws';
}

/** What an operation needs the credentials to allow. */
export interface Permission {
  name: string;
  /** For scoped credentials: the action ('any' = any valid credential). */
  action: StorageAction | 'any';
  /** For scoped credentials: the key (or, for listings, prefix) the action applies to. */
  target: string;
  /**
   * For session policies: the IAM requests of the operation, any one of which allowed suffices (most
   * operations have one). Undefined = the operation checks each key it touches itself (DeleteObjects).
   */
  iam: IamRequest[] | undefined;
}

/** Checks the request's signature and credentials; S3Error when either is missing or wrong. */
export async function authenticate(
  parts: IncomingRequestParts,
  authority: CredentialAuthority,
  root: RootCredentials | undefined,
  region: string,
  now: () => number,
): Promise<Authenticated> {
  const oss = dialectOf(parts) === 'oss';
  const auth = oss ? parseOssAuth(parts, region, now()) : parseAuth(parts, region, now());
  if (!auth)
    throw new S3Error(
      'AccessDenied',
      'Anonymous access is not allowed; sign the request with temporary credentials.',
    );
  let principal: Principal;
  let secretAccessKey: string;
  if (root && auth.sessionToken === undefined && auth.accessKeyId === root.accessKey) {
    principal = { kind: 'root', accessKeyId: root.accessKey };
    secretAccessKey = root.secretKey;
  } else {
    const verified = authority.verify(auth.accessKeyId, auth.sessionToken, Math.floor(now() / 1000));
    if ('problem' in verified) throw tokenError(verified.problem, auth.sessionToken);
    if (verified.kind === 'session' && verified.session.parentAccessKey !== root?.accessKey) {
      throw new S3Error(
        'InvalidToken',
        'The provided token was issued to root credentials this store no longer has.',
      );
    }
    principal =
      verified.kind === 'scoped'
        ? { kind: 'scoped', claims: verified.claims }
        : { kind: 'session', session: verified.session };
    secretAccessKey = verified.secretAccessKey;
  }
  const mismatch = () =>
    new S3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  if ('additionalHeaders' in auth /* OssAuth */) {
    if (!sameHex(expectedOssSignature(parts, auth, secretAccessKey), auth.signature)) throw mismatch();
    return { dialect: 'oss', auth, signature: undefined, principal };
  }
  const signature = new SignatureContext(auth, secretAccessKey);
  const expected = await signature.expectedRequestSignature(parts);
  if (!sameHex(expected, auth.signature)) throw mismatch();
  return { dialect: 'aws', auth, signature, principal };
}

/** Refuses the operation unless the principal may do it. */
export function authorize(principal: Principal, permission: Permission): void {
  if (!permits(principal, permission)) {
    throw new S3Error(
      'AccessDenied',
      principal.kind === 'session'
        ? `Access Denied: the session policy does not allow ${permission.iam?.[0]?.action ?? permission.name} on "${permission.iam?.[0]?.resource ?? permission.target}".`
        : `These credentials may not ${permission.name} "${permission.target}".`,
    );
  }
}

/** Whether the principal may do what `permission` describes. */
export function permits(principal: Principal, permission: Permission): boolean {
  switch (principal.kind) {
    case 'root':
      return true;
    case 'scoped':
      return permission.action === 'any' || allows(principal.claims, permission.action, permission.target);
    case 'session': {
      const policy = principal.session.policy;
      if (!policy || !permission.iam) return true;
      return permission.iam.some((request) => isAllowed(policy, request));
    }
  }
}

/** The IAM resource of an object, and of the bucket (key undefined). */
export function s3Arn(bucket: string, key?: string): string {
  return key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;
}

/** Constant-time comparison of two signatures (hex strings), so timing reveals no matching prefix. */
export function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function tokenError(problem: string, token: string | undefined): S3Error {
  if (!token)
    return new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records (temporary credentials need their session token).',
    );
  if (problem === 'expired') return new S3Error('ExpiredToken', 'The provided token has expired.');
  if (problem === 'wrong-key')
    return new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not match the session token.',
    );
  return new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
}
