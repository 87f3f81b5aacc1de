/** The object-key rule (src/storage/object-key.ts) on its own: what it refuses, and what it must not. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidObjectKey, objectKeyProblem } from '../../src/storage/object-key.ts';

describe('object keys', () => {
  it('accepts the keys devices and Skyvault write, dots and all', () => {
    for (const key of [
      'ws/media/DJI_20240101120000_0001_W.JPG',
      'ws/media/flight-1/DJI_0001.obs',
      'ws/media/DJI_2024 01 01/dir with space/ünïcødé 文件 +plus&amp=eq~tilde(1)!.jpg',
      'ws/media/..x/.y/x..jpg',
      'ws/media/...',
      'ws/media/emoji 🚁.jpg',
      'ws/media/c1-\u0080-is-not-refused',
      `ws/media/${'a'.repeat(1024 - 'ws/media/'.length)}`,
      'x',
    ]) {
      assert.equal(objectKeyProblem(key), undefined, key);
    }
  });

  it('refuses dot segments, empty segments, control characters, bad UTF-8 and over-long keys', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['ws/media/../../other/media/x', /"\.\." segment/],
      ['ws/media/..', /"\.\." segment/],
      ['..', /"\.\." segment/],
      ['ws/media/./x', /"\." segment/],
      ['./ws/media/x', /"\." segment/],
      ['ws/media//x', /empty segment/],
      ['/ws/media/x', /empty segment/],
      ['ws/media/dir/', /empty segment/],
      ['ws/media/x\u0000', /control character/],
      ['ws/media/x\t.jpg', /control character/],
      ['ws/media/x\r\n.jpg', /control character/],
      ['ws/media/x\u001f', /control character/],
      ['ws/media/x\u007f', /control character/],
      ['ws/media/x\ud800.jpg', /UTF-8/],
      ['ws/media/x\udc00.jpg', /UTF-8/],
      [`ws/media/${'a'.repeat(1025 - 'ws/media/'.length)}`, /longer than 1024 bytes/],
      [`ws/media/${'é'.repeat(508)}`, /longer than 1024 bytes/],
    ];
    for (const [key, reason] of cases) {
      const problem = objectKeyProblem(key);
      assert.ok(problem, JSON.stringify(key));
      assert.match(problem.message, reason, JSON.stringify(key));
      assert.equal(problem.kind, /longer/.test(problem.message) ? 'too-long' : 'invalid');
      assert.equal(isValidObjectKey(key), false);
    }
  });
});
