/**
 * Who may do what on the embedded S3 endpoint. A request is authenticated before anything else is read
 * (its body may be gigabytes, and `100 Continue` waits on this): sigv4.ts parses the signature and
 * enforces clock skew and presign expiry, the session token yields the claims and the derived secret
 * (credentials.ts), and the signature must match. The operation is then checked against the token's
 * scope. Every refusal a client without valid credentials can provoke is decided here.
 */
import { timingSafeEqual } from 'node:crypto';
import type { StorageAction } from '../provider.ts';
import { allows, type CredentialAuthority, type CredentialClaims } from './credentials.ts';
import { S3Error } from './s3-errors.ts';
import { type IncomingRequestParts, parseAuth, type ParsedAuth, SignatureContext } from './sigv4.ts';

export interface Authenticated {
  auth: ParsedAuth;
  signature: SignatureContext;
  claims: CredentialClaims;
}

/** What an operation needs the credentials to allow. */
export interface Permission {
  name: string;
  /** 'any' = any valid credential. */
  action: StorageAction | 'any';
  /** The key (or, for listings, prefix) the action applies to. */
  target: string;
}

/** Checks the request's signature and session token; S3Error when either is missing or wrong. */
export async function authenticate(
  parts: IncomingRequestParts,
  authority: CredentialAuthority,
  region: string,
  now: () => number,
): Promise<Authenticated> {
  const auth = parseAuth(parts, region, now());
  if (!auth)
    throw new S3Error(
      'AccessDenied',
      'Anonymous access is not allowed; sign the request with temporary credentials.',
    );
  const verified = authority.verify(auth.accessKeyId, auth.sessionToken, Math.floor(now() / 1000));
  if ('problem' in verified) throw tokenError(verified.problem, auth.sessionToken);
  const signature = new SignatureContext(auth, verified.secretAccessKey);
  const expected = await signature.expectedRequestSignature(parts);
  if (!sameHex(expected, auth.signature)) {
    throw new S3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
  return { auth, signature, claims: verified.claims };
}

/** Refuses the operation unless the token's actions and scope allow it. */
export function authorize(claims: CredentialClaims, permission: Permission): void {
  if (permission.action !== 'any' && !allows(claims, permission.action, permission.target)) {
    throw new S3Error('AccessDenied', `These credentials may not ${permission.name} "${permission.target}".`);
  }
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
