import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSealed, SecretBox } from '../../src/shared/secret-box.ts';

describe('SecretBox', () => {
  const box = new SecretBox('k'.repeat(40));

  it('seals with a fresh IV each time and opens back; the sealed text does not contain the secret', () => {
    const a = box.seal('mqtt-pass-123');
    const b = box.seal('mqtt-pass-123');
    assert.notEqual(a, b);
    assert.ok(isSealed(a));
    assert.ok(!a.includes('mqtt-pass-123'));
    assert.equal(box.open(a), 'mqtt-pass-123');
    assert.equal(box.open(b), 'mqtt-pass-123');
  });

  it('refuses a tampered value or another key, and passes a value stored in clear through', () => {
    const sealed = box.seal('secret');
    const [v, iv, body] = sealed.split(':') as [string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0]! ^= 1;
    assert.throws(() => box.open(`${v}:${iv}:${flipped.toString('base64url')}`));
    const other = new SecretBox('o'.repeat(40));
    assert.throws(() => other.open(sealed));
    assert.notEqual(other.fingerprint(), box.fingerprint());
    assert.equal(box.open('legacy-plain-password'), 'legacy-plain-password');
  });
});
