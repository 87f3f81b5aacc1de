import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { hashPassword, unusablePasswordHash, verifyPassword } from '../../src/features/users/password.ts';

/** The lowest accepted cost (1 MiB), so these tests stay fast; one test checks the default. */
const cost = 10;

/** A stored hash of `password` made directly with scrypt, whatever the parameters. */
function storedHash(password: string, N: number, r: number, p: number): string {
  const salt = Buffer.alloc(16, 7);
  const key = scryptSync(password, salt, 32, { N, r, p, maxmem: 256 * N * r });
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

describe('password hashing', () => {
  it('verifies the right password only, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse', { cost });
    const b = await hashPassword('correct horse', { cost });
    assert.notEqual(a, b);
    assert.match(a, /^scrypt\$1024\$8\$3\$/);
    assert.equal(await verifyPassword('correct horse', a), true);
    assert.equal(await verifyPassword('correct horsE', a), false);
    assert.equal(await verifyPassword('', a), false);
  });

  it('uses cost 15 (N=32768) when no cost is given', async () => {
    assert.match(await hashPassword('correct horse'), /^scrypt\$32768\$8\$3\$/);
  });

  it('verifies with the cost stored in the hash, not a current setting', async () => {
    const older = await hashPassword('pw', { cost: 11 });
    assert.match(older, /^scrypt\$2048\$/);
    assert.equal(await verifyPassword('pw', older), true);
    assert.equal(await verifyPassword('pw', storedHash('pw', 2 ** 12, 4, 1)), true);
  });

  it('refuses to hash with a cost outside 10 to 20', async () => {
    for (const bad of [9, 21, 12.5, Number.NaN]) {
      await assert.rejects(hashPassword('pw', { cost: bad }), RangeError, String(bad));
      assert.throws(() => unusablePasswordHash(bad), RangeError, String(bad));
    }
  });

  it('matches no password against the unusable hash, which has the parameters of a real one', async () => {
    const unusable = unusablePasswordHash(cost);
    const real = await hashPassword('', { cost });
    assert.deepEqual(unusable.split('$').slice(0, 4), real.split('$').slice(0, 4));
    assert.match(unusablePasswordHash(15), /^scrypt\$32768\$8\$3\$/);
    assert.equal(await verifyPassword('', unusable), false);
    assert.equal(await verifyPassword('x', 'plain-text'), false);
  });

  it('matches nothing against a stored hash with parameters out of bounds, even a correct one', async () => {
    // Genuine hashes of "pw", so only the bounds check can turn them down.
    assert.equal(await verifyPassword('pw', storedHash('pw', 2 ** 9, 8, 1)), false, 'N below 2^10');
    assert.equal(await verifyPassword('pw', storedHash('pw', 2 ** 10, 9, 1)), false, 'r above 8');
    assert.equal(await verifyPassword('pw', storedHash('pw', 2 ** 10, 1, 17)), false, 'p above 16');
    const valid = storedHash('pw', 2 ** 10, 8, 1).split('$');
    const withParameters = (n: string, r: string, p: string) =>
      ['scrypt', n, r, p, valid[4], valid[5]].join('$');
    // scrypt itself would throw on these, or allocate gigabytes.
    for (const [n, r, p] of [
      ['3000', '8', '1'],
      [String(2 ** 21), '1', '1'],
      ['1024', '0', '1'],
      ['1024', '8', '0'],
      ['1024', '8', '1e3'],
      ['0x400', '8', '1'],
      ['', '8', '1'],
    ] as const) {
      assert.equal(await verifyPassword('pw', withParameters(n, r, p)), false, `${n} ${r} ${p}`);
    }
    assert.equal(await verifyPassword('pw', `${valid.join('$')}$extra`), false);
  });
});
