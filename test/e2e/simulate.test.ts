import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { djiPhoto } from '../../src/simulate/dji-photo.ts';
import { AIRCRAFT_SN } from '../../src/simulate/pilot.ts';
import { type Cli, runCli, startServe } from '../helpers/cli.ts';
import { tempDir } from '../helpers/test-app.ts';

/** Loosely typed JSON of an API answer (the test reads a few fields of it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function json(url: string, init?: RequestInit): Promise<any> {
  return (await fetch(url, init)).json();
}

// One server for the file. The upload tests count what is in the library, so they take turns; the
// refusals upload nothing and run beside them.
describe('skyvault simulate pilot', { concurrency: true }, () => {
  let server: Cli;
  let url: string;
  const password = 'simulated-pilot-pw';
  before(async () => {
    ({ server, url } = await startServe(password));
  });
  after(() => server.stop());

  const simulate = async (...args: string[]) => {
    const cli = runCli(['simulate', 'pilot', '--url', url, '--password', password, ...args], {});
    const code = await cli.exited();
    return { code, out: cli.stdout(), err: cli.stderr() };
  };

  describe('uploads', { concurrency: false }, () => {
    it('uploads generated DJI photos through the five Pilot calls, and nothing twice', async () => {
      const first = await simulate('--files', '4');
      assert.equal(first.code, 0, first.err);
      assert.match(first.out, /0 already in the cloud, 4 to upload\./);
      assert.match(first.out, /Done: 4 uploaded, 0 already in the cloud, 0 failed\./);
      const again = await simulate('--files', '4');
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /Done: 0 uploaded, 4 already in the cloud, 0 failed\./);

      const login = await json(`${url}/manage/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password, flag: 1 }),
      });
      const headers = { 'x-auth-token': login.data.access_token };
      const list = (
        await json(`${url}/media/api/v1/files/${login.data.workspace_id}/files?page_size=50`, { headers })
      ).data;
      assert.equal(list.pagination.total, 4);
      const photo = list.list[0];
      assert.equal(photo.media_type, 'image');
      // What a real Pilot 2 sends reaches the library: its wayline folder and the aircraft's SN.
      assert.equal(photo.file_path, 'Skyvault simulated mission');
      assert.equal(photo.drone, AIRCRAFT_SN);
      assert.equal(photo.drone_model_key, '0-67-0');
      assert.equal(photo.payload_model_key, '1-53-0');
      assert.equal(photo.relative_altitude, 80);
      assert.ok(photo.latitude > 22.5 && photo.latitude < 22.6);
      const groups = (await json(`${url}/media/api/v1/files/${login.data.workspace_id}/groups`, { headers }))
        .data.list;
      assert.equal(groups[0].expected_count, 4);
      assert.equal(groups[0].stored_count, 4);
      assert.equal(groups[0].complete, true);
    });

    it("uploads a folder of the user's files", async () => {
      const dir = tempDir();
      mkdirSync(path.join(dir, 'flight 1'));
      writeFileSync(
        path.join(dir, 'flight 1', 'DJI_0100.JPG'),
        await djiPhoto({
          latitude: 48.1,
          longitude: 11.5,
          absoluteAltitude: 600,
          relativeAltitude: 50,
          gimbalYawDegree: 0,
          capturedAt: new Date(),
          seed: 99,
        }),
      );
      writeFileSync(path.join(dir, 'notes.srt'), 'subtitles');
      writeFileSync(path.join(dir, '.hidden'), 'skipped');
      const result = await simulate('--dir', dir);
      assert.equal(result.code, 0, result.err);
      assert.match(result.out, /2 file\(s\)/);
      assert.match(result.out, /Done: 2 uploaded/);
    });

    it('uploads a short H.264 video every fifth file, which gets a poster', async () => {
      // Files 1 to 4 are the photos of the first test; 5 and 10 are videos.
      const result = await simulate('--files', '10');
      assert.equal(result.code, 0, result.err);
      assert.match(result.out, /Done: 6 uploaded, 4 already in the cloud, 0 failed\./);
      const login = await json(`${url}/manage/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password, flag: 1 }),
      });
      const headers = { 'x-auth-token': login.data.access_token };
      const videos = async () =>
        (
          await json(`${url}/media/api/v1/files/${login.data.workspace_id}/files?page_size=50`, { headers })
        ).data.list.filter((f: { media_type: string }) => f.media_type === 'video');
      const listed = await videos();
      assert.deepEqual(listed.map((f: { file_name: string }) => f.file_name.replace(/\d{14}/, 'T')).sort(), [
        'DJI_T_0005_V.MP4',
        'DJI_T_0010_V.MP4',
      ]);
      assert.notEqual(listed[0].fingerprint, listed[1].fingerprint, 'each video has its own bytes');
      assert.equal(listed[0].file_path, 'Skyvault simulated mission');
      assert.ok(listed[0].latitude > 22.5 && listed[0].latitude < 22.6, 'reported like the photos');
      // `skyvault serve` found the ffmpeg that npm installed and made the posters in the background.
      const deadline = Date.now() + 30_000;
      let posters: unknown[] = [];
      while (Date.now() < deadline) {
        posters = (await videos())
          .map((f: { thumbnail_url: string | null }) => f.thumbnail_url)
          .filter(Boolean);
        if (posters.length === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(posters.length, 2, 'both videos have a thumbnail');
    });
  });

  it('explains a wrong password and bad arguments', async () => {
    const cli = runCli(['simulate', 'pilot', '--url', url, '--password', 'wrong'], {});
    const usage = runCli(['simulate', 'pilot', '--files', 'many', '--password', 'x'], {});
    const unreachable = runCli(['simulate', 'pilot', '--url', 'http://127.0.0.1:1', '--password', 'x'], {});
    assert.equal(await cli.exited(), 1);
    assert.match(cli.stderr(), /Login as "admin" failed: Invalid username or password\./);
    assert.equal(await usage.exited(), 2);
    assert.match(usage.stderr(), /--files must be a positive whole number/);
    assert.equal(await unreachable.exited(), 1);
    assert.match(unreachable.stderr(), /Cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});
