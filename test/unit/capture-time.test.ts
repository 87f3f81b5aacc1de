import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeCaptureTime } from '../../src/features/media/capture-time.ts';

describe(normalizeCaptureTime.name, () => {
  it('keeps the zone a device gave, in one ISO form', () => {
    assert.deepEqual(normalizeCaptureTime('2021-12-02T16:17:07+08:00'), {
      iso: '2021-12-02T16:17:07+08:00',
      deviceLocal: false,
    });
    assert.deepEqual(normalizeCaptureTime('2021-12-02 16:17:07+0800'), {
      iso: '2021-12-02T16:17:07+08:00',
      deviceLocal: false,
    });
    assert.deepEqual(normalizeCaptureTime('2024-01-01T00:00:00.250Z'), {
      iso: '2024-01-01T00:00:00.250+00:00',
      deviceLocal: false,
    });
  });

  it('marks a zone-less time as the device’s local clock', () => {
    assert.deepEqual(normalizeCaptureTime('2021-05-10 16:04:20'), {
      iso: '2021-05-10T16:04:20',
      deviceLocal: true,
    });
    assert.deepEqual(normalizeCaptureTime('2021:05:10 16:04:20'), {
      iso: '2021-05-10T16:04:20',
      deviceLocal: true,
    });
  });

  it('gives nothing for what is no capture time', () => {
    for (const raw of [undefined, null, '', 'yesterday', '2021-05-10', '16:04:20', '2021-05-10 16:04']) {
      assert.equal(normalizeCaptureTime(raw), undefined, String(raw));
    }
  });
});
