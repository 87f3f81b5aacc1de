/** PasswordHasher: scrypt on worker threads (an integration test: unit tests may not start threads). */
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { PasswordHasher } from '../../src/features/auth/password-hasher.ts';
import { hashPassword, unusablePasswordHash, verifyPassword } from '../../src/features/users/password.ts';
import { AppError } from '../../src/shared/app-error.ts';

describe('password hasher (worker threads, bounded)', () => {
  it('verifies hashes made before it existed, and makes hashes in the same format', async () => {
    const hasher = new PasswordHasher({ concurrency: 2, maxQueued: 8 });
    try {
      const salt = Buffer.alloc(16, 7);
      const key = scryptSync('pw', salt, 32, { N: 2 ** 12, r: 4, p: 1, maxmem: 256 * 2 ** 12 * 4 });
      const older = ['scrypt', 2 ** 12, 4, 1, salt.toString('base64url'), key.toString('base64url')].join(
        '$',
      );
      assert.equal(await hasher.verify('pw', older), true);
      assert.equal(await hasher.verify('pW', older), false);
      const onThreadpool = await hashPassword('correct horse', { cost: 10 });
      assert.equal(await hasher.verify('correct horse', onThreadpool), true);
      assert.equal(await hasher.verify('correct horse', unusablePasswordHash(10)), false);
      assert.equal(await hasher.verify('pw', 'plain-text'), false);

      const made = await hasher.hash('Ångström', 11);
      assert.match(made, /^scrypt\$2048\$8\$3\$/);
      assert.equal(await verifyPassword('Ångström', made), true);
      assert.equal(await verifyPassword('A\u030angstro\u0308m', made), true, 'NFC, as before');
      const together = await Promise.all(
        Array.from({ length: 6 }, (_, i) => hasher.verify(i % 2 ? 'pw' : 'no', older)),
      );
      assert.deepEqual(together, [false, true, false, true, false, true]);
    } finally {
      await hasher.close();
    }
  });

  it('serves priority requests first, refuses beyond its queue, and rejects what waits at close', async () => {
    const hasher = new PasswordHasher({ concurrency: 1, maxQueued: 2 });
    const slow = unusablePasswordHash(15);
    const order: string[] = [];
    const track = (name: string, priority: boolean) =>
      hasher.verify('x', slow, { priority }).then(
        () => order.push(name),
        (error: Error) => order.push(`${name}: ${error.message}`),
      );
    const running = track('first', false);
    const normal = [track('normal-1', false), track('normal-2', false)];
    await assert.rejects(hasher.verify('x', slow), (error: unknown) => {
      assert.ok(error instanceof AppError && error.kind === 'PasswordCheckBusy');
      assert.ok((error.details as { retry_after: number }).retry_after >= 1);
      return true;
    });
    const priority = track('priority', true);
    assert.deepEqual(hasher.load, { running: 1, queued: 3 });
    await running;
    await priority;
    assert.deepEqual(order, ['first', 'priority']);
    await hasher.close();
    await Promise.all(normal);
    assert.deepEqual(order.slice(2).sort(), [
      'normal-1: The password hasher is closing.',
      'normal-2: The password hasher is closing.',
    ]);
    await assert.rejects(hasher.verify('x', slow), /closed/);
  });
});
