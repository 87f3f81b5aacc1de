/**
 * Login rate limits: a token bucket per account (the username asked for, known or not) and one per
 * client address (an IPv6 address counts by its /64, which one machine usually has whole).
 *
 * Each bucket holds up to `perMinute` tokens and refills at `perMinute` tokens a minute. An attempt is
 * admitted when both its buckets hold a whole token, and takes one from each before its password is
 * hashed (so a burst of concurrent attempts cannot all slip through). A failed login keeps that cost;
 * a successful one gives back all but SUCCESS_COST (a tenth), so a failure counts as ten successes.
 * An attempt that is refused, or whose password was never checked (the hasher was busy), costs nothing.
 * So a user's own typos never lock anyone out for long: past the burst, the next attempt is allowed
 * within 60 / perMinute seconds (6 s per account, 2 s per address by default), and the refusal says
 * when (TooManyLogins, HTTP 429, Retry-After).
 *
 * Someone guessing one account's password from many addresses keeps its bucket empty, and the real
 * user would then compete with them for each token. An address the account logged in from
 * successfully in the last KNOWN_FOR_MS is therefore not held by the account's bucket (only by its
 * address's), and its logins go first in the hash queue (PasswordHasher's `priority`): known users keep
 * logging in through an attack; a new device waits its turn.
 *
 * Hand-written rather than @fastify/rate-limit (not a dependency): that plugin counts requests by one
 * key before the handler runs, while these limits need two keys, one of them from the body, and a cost
 * known only once the password has been checked. Limits live in this process: each instance behind a
 * load balancer applies them on its own.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { AppError } from '../../shared/app-error.ts';

/** The part of a token a successful login keeps. */
export const SUCCESS_COST = 0.1;
/** How long an address stays known to an account after a successful login from it. */
export const KNOWN_FOR_MS = 30 * 24 * 3600_000;
/** Bounds on what is remembered: buckets per kind, and known (account, address) pairs. */
const MAX_BUCKETS = 50_000;
const MAX_KNOWN = 10_000;
/**
 * Tenths and refills do not add up exactly in floating point: a token short by less than EPSILON is
 * whole, and waits are rounded to whole milliseconds (down by less than a nanosecond of rounding error)
 * before whole seconds, so a Retry-After of 6 s is not 7 for 6000.0000001 ms.
 */
const EPSILON = 1e-5;

export interface LoginLimiterOptions {
  /** Failed logins per minute (and burst) per account; 0 = no limit. */
  perAccountPerMinute: number;
  /** Failed logins per minute (and burst) per client address; 0 = no limit. */
  perAddressPerMinute: number;
  /** Epoch ms. */
  now: () => number;
}

/** An admitted attempt: report how it ended, once. */
export interface LoginAttempt {
  /** The account logged in from this address before (its logins go first in the hash queue). */
  readonly known: boolean;
  settle(outcome: 'success' | 'failure' | 'unchecked'): void;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was computed, epoch ms. */
  at: number;
}

class Buckets {
  private readonly map = new Map<string, Bucket>();
  private readonly ratePerMs: number;

  constructor(readonly capacity: number) {
    this.ratePerMs = capacity / 60_000;
  }

  get enabled(): boolean {
    return this.capacity > 0;
  }

  /** The bucket of `key`, refilled to `now` (a fresh one is full). Kept in least-recently-used order. */
  get(key: string, now: number): Bucket {
    const bucket = this.map.get(key) ?? { tokens: this.capacity, at: now };
    this.map.delete(key);
    this.map.set(key, bucket);
    bucket.tokens = Math.min(this.capacity, bucket.tokens + Math.max(0, now - bucket.at) * this.ratePerMs);
    bucket.at = now;
    if (this.map.size > MAX_BUCKETS) this.prune(now);
    return bucket;
  }

  /** Milliseconds until `bucket` holds a whole token. */
  waitMs(bucket: Bucket): number {
    return bucket.tokens >= 1 - EPSILON ? 0 : (1 - bucket.tokens) / this.ratePerMs;
  }

  give(bucket: Bucket, tokens: number): void {
    bucket.tokens = Math.min(this.capacity, bucket.tokens + tokens);
  }

  /** Drops full buckets (the same as none), then the least recently used beyond 90% of the bound. */
  private prune(now: number): void {
    for (const [key, bucket] of this.map) {
      if (bucket.tokens + (now - bucket.at) * this.ratePerMs >= this.capacity) this.map.delete(key);
    }
    for (const key of this.map.keys()) {
      if (this.map.size <= MAX_BUCKETS * 0.9) break;
      this.map.delete(key);
    }
  }
}

export class LoginLimiter {
  private readonly accounts: Buckets;
  private readonly addresses: Buckets;
  /** `account\naddress` → until when that pair is known (epoch ms), oldest first. */
  private readonly known = new Map<string, number>();
  private readonly now: () => number;

  constructor(options: LoginLimiterOptions) {
    this.accounts = new Buckets(options.perAccountPerMinute);
    this.addresses = new Buckets(options.perAddressPerMinute);
    this.now = options.now;
  }

  /**
   * Admits a login attempt for `username` from `address` (the request's client address), or throws
   * TooManyLogins with `retry_after` seconds in its details.
   */
  admit(username: string, address: string): LoginAttempt {
    const now = this.now();
    const account = accountKey(username);
    const from = addressKey(address);
    const pair = `${account}\n${from}`;
    const knownUntil = this.known.get(pair);
    const known = knownUntil !== undefined && knownUntil > now;
    if (knownUntil !== undefined && !known) this.known.delete(pair);

    const buckets: Array<[Buckets, Bucket]> = [];
    if (this.addresses.enabled) buckets.push([this.addresses, this.addresses.get(from, now)]);
    if (this.accounts.enabled && !known) buckets.push([this.accounts, this.accounts.get(account, now)]);
    const waitMs = Math.max(0, ...buckets.map(([kind, bucket]) => kind.waitMs(bucket)));
    if (waitMs > 0) {
      const seconds = Math.max(1, Math.ceil(Math.ceil(waitMs - 1e-6) / 1000));
      throw new AppError(
        'TooManyLogins',
        `Too many login attempts for this account or from this address; try again in ${seconds} s.`,
        { details: { retry_after: seconds } },
      );
    }
    for (const [, bucket] of buckets) bucket.tokens -= 1;

    let settled = false;
    return {
      known,
      settle: (outcome) => {
        if (settled) return;
        settled = true;
        const refund = outcome === 'unchecked' ? 1 : outcome === 'success' ? 1 - SUCCESS_COST : 0;
        for (const [kind, bucket] of buckets) kind.give(bucket, refund);
        if (outcome === 'success') this.remember(pair);
      },
    };
  }

  private remember(pair: string): void {
    this.known.delete(pair);
    this.known.set(pair, this.now() + KNOWN_FOR_MS);
    for (const key of this.known.keys()) {
      if (this.known.size <= MAX_KNOWN) break;
      this.known.delete(key);
    }
  }
}

/** Seconds a TooManyLogins or PasswordCheckBusy error asks to wait (its Retry-After), if it is one. */
export function retryAfterOf(error: unknown): number | undefined {
  if (!(error instanceof AppError) || (error.kind !== 'TooManyLogins' && error.kind !== 'PasswordCheckBusy'))
    return undefined;
  const seconds = (error.details as { retry_after?: unknown } | undefined)?.retry_after;
  return typeof seconds === 'number' ? seconds : undefined;
}

/** Usernames differing only in case or Unicode form share a bucket. */
function accountKey(username: string): string {
  return username.normalize('NFC').toLowerCase();
}

/** IPv4 as is (also when IPv4-mapped); IPv6 by its /64 prefix. */
export function addressKey(address: string): string {
  const bare = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped) return mapped[1]!;
  if (isIPv4(bare) || !isIPv6(bare)) return bare;
  return `${expandIPv6(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, in lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((group) => parseInt(group, 16).toString(16));
}
