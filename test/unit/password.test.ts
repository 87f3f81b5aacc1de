import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, UNUSABLE_PASSWORD_HASH, verifyPassword } from '../../src/features/users/password.ts';

describe('password hashing', () => {
  it('verifies the right password only, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    assert.notEqual(a, b);
    assert.match(a, /^scrypt\$32768\$8\$3\$/);
    assert.equal(await verifyPassword('correct horse', a), true);
    assert.equal(await verifyPassword('correct horsE', a), false);
    assert.equal(await verifyPassword('', a), false);
  });

  it('matches no password against the unusable hash or a malformed one', async () => {
    assert.equal(await verifyPassword('', UNUSABLE_PASSWORD_HASH), false);
    assert.equal(await verifyPassword('x', 'plain-text'), false);
  });
});
