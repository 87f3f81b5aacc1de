import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capturePosition } from '../../src/features/media/media.service.ts';
import { metadataFromExif } from '../../src/features/media/media-enricher.ts';
import { metadataOf } from '../../src/dji/media-metadata.wire.ts';

describe('capture position', () => {
  it('keeps both coordinates or neither', () => {
    assert.deepEqual(capturePosition(22.5797, 113.938), { latitude: 22.5797, longitude: 113.938 });
    assert.deepEqual(capturePosition(0, 0), {}, '0,0 is no GPS fix');
    assert.deepEqual(capturePosition(0, 12.5), { latitude: 0, longitude: 12.5 }, 'the equator is a place');
    assert.deepEqual(capturePosition(91, 10), {});
    assert.deepEqual(capturePosition(10, -180.5), {});
    assert.deepEqual(capturePosition(10, undefined), {});
    assert.deepEqual(capturePosition(Number.NaN, 10), {});
  });

  it('rounds to 7 decimals (about 1 cm), dropping floating-point noise', () => {
    assert.deepEqual(capturePosition(22.580399999999997, 113.93803149999999), {
      latitude: 22.5804,
      longitude: 113.9380315,
    });
    assert.deepEqual(capturePosition(-33.86881234567, 151.20929876543), {
      latitude: -33.8688123,
      longitude: 151.2092988,
    });
  });

  it('is the same rule for device reports and for EXIF', () => {
    for (const [lat, lng] of [
      [0, 0],
      [95, 10],
      [22.5, 113.9],
    ] as const) {
      const reported = metadataOf({ shoot_position: { lat, lng } });
      const read = metadataFromExif({ latitude: lat, longitude: lng });
      assert.deepEqual(
        [reported.latitude, reported.longitude],
        [read.latitude, read.longitude],
        `${lat},${lng}`,
      );
    }
  });
});
