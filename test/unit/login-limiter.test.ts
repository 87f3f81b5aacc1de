import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addressKey,
  KNOWN_FOR_MS,
  LoginLimiter,
  retryAfterOf,
} from '../../src/features/auth/login-limiter.ts';
import { AppError } from '../../src/shared/app-error.ts';

function limiter(perAccountPerMinute: number, perAddressPerMinute: number) {
  const clock = { t: 1_000_000 };
  return {
    clock,
    limiter: new LoginLimiter({ perAccountPerMinute, perAddressPerMinute, now: () => clock.t }),
  };
}

/** The Retry-After seconds of a refused attempt. */
function refused(attempt: () => unknown): number {
  let seconds: number | undefined;
  assert.throws(attempt, (error: unknown) => {
    assert.ok(error instanceof AppError && error.kind === 'TooManyLogins');
    seconds = retryAfterOf(error);
    return true;
  });
  assert.ok(seconds !== undefined && seconds >= 1);
  return seconds;
}

describe('login limiter (token buckets per account and per address)', () => {
  it('admits a burst of failures, then one per refill, and says how long to wait', () => {
    const { clock, limiter: l } = limiter(10, 0);
    for (let i = 0; i < 10; i++) l.admit('pilot', `192.0.2.${i}`).settle('failure');
    assert.equal(
      refused(() => l.admit('pilot', '192.0.2.99')),
      6,
    );
    clock.t += 5_000;
    assert.equal(
      refused(() => l.admit('pilot', '192.0.2.99')),
      1,
    );
    clock.t += 1_000;
    l.admit('pilot', '192.0.2.99').settle('failure');
    refused(() => l.admit('pilot', '192.0.2.99'));
    clock.t += 60_000; // a minute refills the whole burst
    for (let i = 0; i < 10; i++) l.admit('pilot', '192.0.2.1').settle('failure');
    refused(() => l.admit('pilot', '192.0.2.1'));
  });

  it('takes a token before the check, so concurrent attempts cannot all slip through', () => {
    const { limiter: l } = limiter(3, 0);
    const pending = [l.admit('pilot', 'a'), l.admit('pilot', 'b'), l.admit('pilot', 'c')];
    refused(() => l.admit('pilot', 'd'));
    for (const attempt of pending) attempt.settle('unchecked'); // never checked: no cost
    l.admit('pilot', 'd').settle('failure');
  });

  it('charges a success a tenth of a failure, and a refused attempt nothing', () => {
    const { limiter: l } = limiter(0, 5);
    for (let i = 0; i < 30; i++) l.admit(`user-${i}`, '203.0.113.1').settle('success'); // 3 of 5
    l.admit('x', '203.0.113.1').settle('failure');
    l.admit('y', '203.0.113.1').settle('failure');
    refused(() => l.admit('z', '203.0.113.1'));
    refused(() => l.admit('z', '203.0.113.1'));
  });

  it('counts usernames alike whatever their case, and IPv6 addresses by their /64', () => {
    const { limiter: l } = limiter(2, 2);
    l.admit('Pilot', '192.0.2.1').settle('failure');
    l.admit('PILOT', '192.0.2.2').settle('failure');
    refused(() => l.admit('pilot', '192.0.2.3'));
    l.admit('a', '2001:db8:1:2::1').settle('failure');
    l.admit('b', '2001:db8:1:2:ffff::9').settle('failure');
    refused(() => l.admit('c', '2001:0db8:0001:0002:0:0:0:7'));
    l.admit('d', '2001:db8:1:3::1').settle('failure'); // another /64
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
  });

  it("lets an address the account logged in from skip the account's bucket for 30 days", () => {
    const { clock, limiter: l } = limiter(3, 100);
    const first = l.admit('pilot', '198.51.100.7');
    assert.equal(first.known, false);
    first.settle('success');
    // The success took a tenth of a token: 2 failures are left.
    for (let i = 0; i < 2; i++) l.admit('pilot', `192.0.2.${i}`).settle('failure');
    assert.equal(
      refused(() => l.admit('pilot', '192.0.2.50')),
      2,
    );
    const known = l.admit('pilot', '198.51.100.7');
    assert.equal(known.known, true);
    known.settle('success');
    clock.t += KNOWN_FOR_MS + 1;
    for (let i = 0; i < 3; i++) l.admit('pilot', `192.0.2.${i}`).settle('failure');
    refused(() => l.admit('pilot', '198.51.100.7'));
  });

  it('has no limit where it is set to 0', () => {
    const { limiter: l } = limiter(0, 0);
    for (let i = 0; i < 1000; i++) l.admit('pilot', '192.0.2.1').settle('failure');
  });

  it('settles an attempt once', () => {
    const { limiter: l } = limiter(1, 0);
    const attempt = l.admit('pilot', 'a');
    attempt.settle('failure');
    attempt.settle('unchecked'); // ignored: no refund
    refused(() => l.admit('pilot', 'a'));
  });

  it('stays within its memory bound under a flood of fresh keys, keeping the recent ones', () => {
    const { limiter: l } = limiter(1, 1);
    for (let i = 0; i < 60_000; i++)
      l.admit(`user-${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).settle('failure');
    refused(() => l.admit('user-59999', '192.0.2.1')); // recent: still held
    l.admit('user-0', '192.0.2.2').settle('failure'); // the oldest were let go
  });
});
