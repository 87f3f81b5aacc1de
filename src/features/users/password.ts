/**
 * Password hashing with scrypt from node:crypto (no dependency needed). Parameters follow OWASP's
 * scrypt guidance (r=8, p=3, N=2^cost; the default cost 15 takes 32 MiB per hash). The cost comes from
 * configuration (SKYVAULT_PASSWORD_HASH_COST) and, with r and p, is stored in the hash string, so it can
 * change later without invalidating existing passwords: each is verified with its own parameters.
 * Format: `scrypt$<N>$<r>$<p>$<salt base64url>$<hash base64url>`.
 *
 * Where scrypt runs is the caller's choice (`scrypt` option). The default, node:crypto's asynchronous
 * scrypt, runs on libuv's threadpool, which the object store's file I/O needs too: fine for one-off
 * hashing (first start, the command line, tests), but a request path must pass PasswordHasher's
 * (features/auth/password-hasher.ts), which runs it in worker threads of its own, a few at a time.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** log2 of scrypt's N when no cost is given: OWASP's N=2^15. */
export const DEFAULT_PASSWORD_HASH_COST = 15;
/** The costs accepted, for new hashes and for stored ones: 2^10 (1 MiB) to 2^20 (1 GiB) with r=8. */
export const MIN_PASSWORD_HASH_COST = 10;
export const MAX_PASSWORD_HASH_COST = 20;

const R = 8;
const P = 3;
/** Bounds for r and p read from a stored hash; with N ≤ 2^20, memory stays ≤ 128·N·r = 1 GiB. */
const MAX_R = 8;
const MAX_P = 16;
const KEY_LENGTH = 32;

/** One scrypt computation, with everything it needs: what a worker thread is sent. */
export interface ScryptJob {
  /** NFC-normalized. */
  password: string;
  salt: Buffer;
  keyLength: number;
  N: number;
  r: number;
  p: number;
  /** The memory scrypt may take, in bytes (node:crypto's `maxmem`). */
  maxmem: number;
}

/** Runs one scrypt computation; resolves with the derived key. */
export type ScryptFunction = (job: ScryptJob) => Promise<Buffer>;

/** node:crypto's asynchronous scrypt: on libuv's threadpool (see the header). */
export const scryptOnThreadpool: ScryptFunction = ({ password, salt, keyLength, N, r, p, maxmem }) =>
  new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, { N, r, p, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });

export interface HashPasswordOptions {
  /** log2 of scrypt's N, from 10 to 20; default 15. */
  cost?: number;
  /** Where scrypt runs; default libuv's threadpool (see the header). */
  scrypt?: ScryptFunction;
}

interface ScryptParameters {
  N: number;
  r: number;
  p: number;
}

function derive(
  password: string,
  salt: Buffer,
  { N, r, p }: ScryptParameters,
  run: ScryptFunction = scryptOnThreadpool,
): Promise<Buffer> {
  return run({
    password: password.normalize('NFC'),
    salt,
    keyLength: KEY_LENGTH,
    N,
    r,
    p,
    maxmem: 256 * N * r,
  });
}

function workFactor(cost: number): number {
  if (!Number.isInteger(cost) || cost < MIN_PASSWORD_HASH_COST || cost > MAX_PASSWORD_HASH_COST) {
    throw new RangeError(
      `password hash cost must be a whole number from ${MIN_PASSWORD_HASH_COST} to ${MAX_PASSWORD_HASH_COST}, not ${cost}`,
    );
  }
  return 2 ** cost;
}

function format({ N, r, p }: ScryptParameters, salt: Buffer, key: Buffer): string {
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function hashPassword(password: string, options: HashPasswordOptions = {}): Promise<string> {
  const parameters = { N: workFactor(options.cost ?? DEFAULT_PASSWORD_HASH_COST), r: R, p: P };
  const salt = randomBytes(16);
  return format(parameters, salt, await derive(password, salt, parameters, options.scrypt));
}

/**
 * Checks `password` against a stored hash, with the parameters stored in it. A hash that is malformed
 * or asks for parameters out of bounds (the database row is not trusted to size our memory) matches
 * no password.
 */
export async function verifyPassword(
  password: string,
  stored: string,
  options: { scrypt?: ScryptFunction } = {},
): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const parameters = { N: wholeNumber(n), r: wholeNumber(r), p: wholeNumber(p) };
  if (!withinBounds(parameters) || !salt) return false;
  const expected = Buffer.from(hash, 'base64url');
  if (expected.length !== KEY_LENGTH) return false;
  const actual = await derive(password, Buffer.from(salt, 'base64url'), parameters, options.scrypt);
  return timingSafeEqual(actual, expected);
}

function wholeNumber(text: string): number {
  return /^\d{1,8}$/.test(text) ? Number(text) : NaN;
}

function withinBounds({ N, r, p }: ScryptParameters): boolean {
  const isPowerOfTwo = Number.isInteger(N) && N > 0 && (N & (N - 1)) === 0;
  return (
    isPowerOfTwo &&
    N >= 2 ** MIN_PASSWORD_HASH_COST &&
    N <= 2 ** MAX_PASSWORD_HASH_COST &&
    r >= 1 &&
    r <= MAX_R &&
    p >= 1 &&
    p <= MAX_P
  );
}

/**
 * A hash that no password matches, made with the parameters of a real one at `cost`: verified when the
 * username is unknown, so that answer takes as long as a wrong password.
 */
export function unusablePasswordHash(cost: number): string {
  return format(
    { N: workFactor(cost), r: R, p: P },
    Buffer.alloc(16),
    // Not an scrypt output of any password (a 2^-256 chance aside).
    Buffer.alloc(KEY_LENGTH, 1),
  );
}
