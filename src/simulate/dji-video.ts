/**
 * Short videos for the simulators and the tests: a 3 s, 640×360, 15 fps H.264 (Constrained Baseline,
 * yuv420p) MP4 with its index first, which browsers play as they download it (Chromium has no software
 * HEVC decoder, so DJI's H.265 files would not do). Made once with the ffmpeg of @ffmpeg-installer:
 *
 *   ffmpeg -f lavfi -i testsrc=size=640x360:rate=15 -t 3 -an -c:v libx264 -pix_fmt yuv420p \
 *     -profile:v baseline -movflags +faststart -fflags +bitexact -map_metadata -1 dji-video.mp4
 *
 * Each call gives the same picture with its own bytes: Skyvault deduplicates by MD5, so two identical
 * videos would be one file. The seed goes into an MP4 `free` box appended at the end, which players and
 * ffmpeg skip, rather than running ffmpeg at simulation time.
 */
import { readFileSync } from 'node:fs';
import { packagePath } from '../shared/package-root.ts';

/** Every this many generated files of the simulators, one is a video. */
export const VIDEO_EVERY = 5;

/** The fixture's length, for tests that check the duration read from it. */
export const DJI_VIDEO_DURATION_MS = 3000;
export const DJI_VIDEO_SIZE = { width: 640, height: 360 };

let fixture: Buffer | undefined;

export function djiVideo(seed: string | number): Buffer {
  fixture ??= readFileSync(packagePath('src', 'simulate', 'dji-video.mp4'));
  const payload = Buffer.from(`skyvault simulated video ${seed}`, 'utf8');
  const header = Buffer.alloc(8);
  header.writeUInt32BE(header.length + payload.length, 0);
  header.write('free', 4, 'latin1');
  return Buffer.concat([fixture, header, payload]);
}
